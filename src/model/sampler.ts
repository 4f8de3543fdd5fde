// MaskGIT sampler (Chang et al. 2022; aMUSEd's scheduler) exactly as docs/architecture.md and
// training/mmamba/sampling.py maskgit_sample: start all-[MASK]; each step, logits (guided: one batch-2B forward,
// cond rows then uncond rows, l = uncond + g·(cond − uncond); g = 1 skips the uncond pass), Gumbel-max sample
// (stream 2i), confidence + re-mask of the floor(cos(π/2·(i+1)/S)·HW) least confident (stream 2i+1), on the GPU
// kernels of src/engine/ops/sampling.ts.
// The token grid lives on the GPU for the whole run (MaskGitRun): a step reads nothing back and uploads nothing;
// the guided forward's two copies of the grid are made by GPU copies. Callers decide what to read back per step:
// maskgitSample reads the grid (tests, scripts); TextToImage reads one packed preview (pixels + grid).
import type { Engine } from '../engine/engine';
import { gumbelMaxSample, maskgitUpdate } from '../engine/ops/sampling';
import type { Tensor } from '../engine/tensor';
import { GenerationCancelledError, InvalidRequestError } from './errors';
import type { Generator, TextCondition } from './generator';

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

/** One generation's sampler state on the GPU: the text condition and the current (B, HW) token grid. */
export class MaskGitRun {
  readonly batch: number;
  readonly steps: number;
  private readonly guided: boolean;
  private readonly HW: number;
  private readonly cond: TextCondition;
  private grid: Tensor;
  private done = 0;

  /** Validates the request, encodes the text (cond and uncond rows) and uploads the all-[MASK] grid. */
  constructor(
    private readonly e: Engine,
    private readonly model: Generator,
    private readonly r: SampleRequest,
  ) {
    const cfg = model.config;
    const Lt = cfg.text.max_len;
    const B = r.batch;
    if (!Number.isInteger(r.steps) || r.steps < 1) throw new InvalidRequestError(`steps must be a positive integer, got ${r.steps}`);
    if (!(r.temperature > 0)) throw new InvalidRequestError(`temperature must be > 0, got ${r.temperature}`);
    if (!Number.isFinite(r.guidance) || !Number.isFinite(r.tau)) throw new InvalidRequestError('guidance and tau must be finite');
    this.guided = r.guidance !== 1;
    if (this.guided && (!r.uncondIds || r.uncondIds.length !== B * Lt))
      throw new InvalidRequestError(`guidance ${r.guidance} needs uncondIds of ${B}×${Lt} ids (the negative or empty prompt)`);
    this.batch = B;
    this.steps = r.steps;
    this.HW = cfg.grid * cfg.grid;
    const rows = this.guided ? 2 * B : B;
    const text = new Int32Array(rows * Lt);
    text.set(Array.from(r.ids));
    if (this.guided) text.set(Array.from(r.uncondIds!), B * Lt);
    this.cond = model.encodeText(text, rows);
    this.grid = e.fromArray([B, this.HW], new Uint32Array(B * this.HW).fill(cfg.codebook_size), 'u32', 'tokens');
  }

  /** The (B, HW) grid after the steps recorded so far (owned by the run: valid until the next step or dispose). */
  get tokens(): Tensor {
    return this.grid;
  }

  /** Steps recorded so far. */
  get stepsDone(): number {
    return this.done;
  }

  /** Records the next step (forward, Gumbel-max sample, confidence + re-mask) on the GPU; reads nothing back. */
  step(): void {
    const { e, r, HW } = this;
    const B = this.batch;
    const i = this.done;
    if (i >= this.steps) throw new InvalidRequestError(`all ${this.steps} steps are done`);
    let img = this.grid; //                                                         (rows, HW)
    if (this.guided) {
      img = e.empty([2 * B, HW], 'u32', 'img_tokens');
      e.copy(this.grid, img, 0); //                                                 cond rows
      e.copy(this.grid, img, B * HW); //                                            uncond rows
    }
    const logits = this.model.logits(img, this.cond); //                            (rows, HW, K)
    const smp = gumbelMaxSample(e, logits, {
      seed: r.seed,
      stream: 2 * i,
      temperature: r.temperature,
      guidance: this.guided ? r.guidance : undefined,
    }); //                                                                          (B, HW) each
    const upd = maskgitUpdate(e, this.grid, smp.tokens, smp.logp, {
      seed: r.seed,
      step: i,
      steps: r.steps,
      tau: r.tau,
      maskId: this.model.config.codebook_size,
    });
    for (const t of [logits, smp.tokens, smp.logp, upd.conf, this.grid]) t.dispose();
    if (img !== this.grid) img.dispose();
    this.grid = upd.tokens;
    this.done = i + 1;
  }

  dispose(): void {
    this.cond.dispose();
    this.grid.dispose();
  }
}

/** Runs the sampler, reading the grid back after every step; returns the final (B, HW) grid. `onStep` is awaited
 *  after every step; cancellation is checked between steps. */
export async function maskgitSample(
  e: Engine,
  model: Generator,
  r: SampleRequest,
  onStep?: (s: SamplerStep) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<Uint32Array> {
  const run = new MaskGitRun(e, model, r);
  let tokens = new Uint32Array(0);
  try {
    for (let i = 0; i < r.steps; i++) {
      if (signal?.aborted) throw new GenerationCancelledError(i);
      const t0 = now();
      run.step();
      tokens = new Uint32Array((await e.read(run.tokens)) as Uint32Array);
      if (onStep) await onStep({ step: i, steps: r.steps, tokens, msStep: now() - t0 });
    }
  } finally {
    run.dispose();
  }
  return tokens;
}
