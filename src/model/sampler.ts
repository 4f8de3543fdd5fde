// MaskGIT sampler (Chang et al. 2022; aMUSEd's scheduler) exactly as docs/architecture.md and
// training/mmamba/sampling.py maskgit_sample: start all-[MASK]; each step, logits (guided: one batch-2B forward,
// cond rows then uncond rows, l = uncond + g·(cond − uncond); g = 1 skips the uncond pass), Gumbel-max sample
// (stream 2i), confidence + re-mask of the floor(cos(π/2·(i+1)/S)·HW) least confident (stream 2i+1), on the GPU
// kernels of src/engine/ops/sampling.ts. The token grid comes back to the CPU after every step (for the preview
// decode and the onStep callback); cancellation is checked between steps.
import type { Engine } from '../engine/engine';
import { gumbelMaxSample, maskgitUpdate } from '../engine/ops/sampling';
import { GenerationCancelledError, InvalidRequestError } from './errors';
import type { Generator } from './generator';

export interface SampleRequest {
  /** (B, Lt) text ids, padded to text.max_len. */
  ids: ArrayLike<number>;
  /** (B, Lt) ids of the negative or empty prompt; required unless guidance = 1. */
  uncondIds?: ArrayLike<number>;
  batch: number;
  steps: number;
  guidance: number;
  tau: number;
  temperature: number;
  seed: number;
}

export interface SamplerStep {
  step: number;
  steps: number;
  /** (B, HW) token grid after this step; [MASK] (= codebook_size) where still masked. */
  tokens: Uint32Array;
  /** Wall time of this step (forward + sampling + readback), ms. */
  msStep: number;
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Runs the sampler; returns the final (B, HW) grid. `onStep` is awaited after every step. */
export async function maskgitSample(
  e: Engine,
  model: Generator,
  r: SampleRequest,
  onStep?: (s: SamplerStep) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<Uint32Array> {
  const cfg = model.config;
  const HW = cfg.grid * cfg.grid;
  const Lt = cfg.text.max_len;
  const maskId = cfg.codebook_size;
  const B = r.batch;
  if (!Number.isInteger(r.steps) || r.steps < 1) throw new InvalidRequestError(`steps must be a positive integer, got ${r.steps}`);
  if (!(r.temperature > 0)) throw new InvalidRequestError(`temperature must be > 0, got ${r.temperature}`);
  if (!Number.isFinite(r.guidance) || !Number.isFinite(r.tau)) throw new InvalidRequestError('guidance and tau must be finite');
  const guided = r.guidance !== 1;
  if (guided && (!r.uncondIds || r.uncondIds.length !== B * Lt))
    throw new InvalidRequestError(`guidance ${r.guidance} needs uncondIds of ${B}×${Lt} ids (the negative or empty prompt)`);
  const rows = guided ? 2 * B : B;
  const text = new Int32Array(rows * Lt);
  text.set(Array.from(r.ids));
  if (guided) text.set(Array.from(r.uncondIds!), B * Lt);
  if (signal?.aborted) throw new GenerationCancelledError(0);
  const cond = model.encodeText(text, rows);
  let tokens = new Uint32Array(B * HW).fill(maskId); // (B, HW)
  try {
    for (let i = 0; i < r.steps; i++) {
      if (signal?.aborted) throw new GenerationCancelledError(i);
      const t0 = now();
      const both = new Uint32Array(rows * HW);
      both.set(tokens);
      if (guided) both.set(tokens, B * HW);
      const img = e.fromArray([rows, HW], both, 'u32', 'img_tokens'); //            (rows, HW)
      const logits = model.logits(img, cond); //                                     (rows, HW, K)
      const smp = gumbelMaxSample(e, logits, {
        seed: r.seed,
        stream: 2 * i,
        temperature: r.temperature,
        guidance: guided ? r.guidance : undefined,
      }); //                                                                         (B, HW) each
      const cur = e.fromArray([B, HW], tokens, 'u32', 'tokens');
      const upd = maskgitUpdate(e, cur, smp.tokens, smp.logp, { seed: r.seed, step: i, steps: r.steps, tau: r.tau, maskId });
      const next = (await e.read(upd.tokens)) as Uint32Array;
      for (const t of [img, logits, smp.tokens, smp.logp, cur, upd.tokens, upd.conf]) t.dispose();
      tokens = new Uint32Array(next);
      if (onStep) await onStep({ step: i, steps: r.steps, tokens, msStep: now() - t0 });
    }
  } finally {
    cond.dispose();
  }
  return tokens;
}
