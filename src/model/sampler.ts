// MaskGIT sampler (Chang et al. 2022; aMUSEd's scheduler) exactly as docs/architecture.md and
// training/mmamba/sampling.py maskgit_sample: start all-[MASK] (or, to edit a picture, with the kept tokens fixed
// and only the others [MASK]: the schedule then runs over the M masked positions, floor(cos(π/2·(i+1)/S)·M)); each
// step, logits (guided: one batch-2B forward, cond rows then uncond rows, l = uncond + g·(cond − uncond); g = 1 skips
// the uncond pass), Gumbel-max sample (stream 2i), confidence + re-mask of the floor(cos(π/2·(i+1)/S)·HW) least
// confident (stream 2i+1), on the GPU kernels of src/engine/ops/sampling.ts. Batch rows share the prompt and the
// starting grid; they draw either with one seed (counters b·HW + pos, as sampling.py) or with one seed each
// (variations: row b equals a batch-1 run with its seed, as seeded_sampling.py).
// The token grid lives on the GPU for the whole run (MaskGitRun): a step reads nothing back and uploads nothing;
// the guided forward's two copies of the grid are made by GPU copies. Each step is submitted as it is recorded (one
// command buffer), so the GPU runs it while the caller records what comes next. Callers decide what to read back
// per step: maskgitSample reads the grid (tests, scripts); TextToImage reads one packed preview (pixels + grid).
import type { Engine } from '../engine/engine';
import { gumbelMaxSample, maskgitUpdate, MAX_ROW_KEYS, type Seeds } from '../engine/ops/sampling';
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
  /** One seed for the batch, or one per batch row (row b then draws as a batch-1 run with seed[b]). */
  seed: Seeds;
  /** (HW) starting grid of every row, for editing; with `keep`. Kept positions must hold codebook ids. */
  initTokens?: ArrayLike<number>;
  /** (HW) 1 = keep that token of `initTokens` fixed, 0 = generate it anew; at least one 0. */
  keep?: ArrayLike<number>;
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

/** CPU time of one step() in ms: recording the generator forward, recording the sampling (Gumbel-max, re-mask),
 *  and submitting the step's command buffer (where Dawn encodes the backend's commands). */
export interface StepCpu {
  forwardMs: number;
  samplingMs: number;
  submitMs: number;
}

/** One generation's sampler state on the GPU: the text condition and the current (B, HW) token grid. */
export class MaskGitRun {
  readonly batch: number;
  readonly steps: number;
  private readonly guided: boolean;
  private readonly HW: number;
  private readonly cond: TextCondition;
  /** Positions masked at the start: the cosine schedule runs over them. */
  readonly masked: number;
  private grid: Tensor;
  private done = 0;
  /** CPU time of the last step() (benchmarks; zeros before the first). */
  lastStepCpu: StepCpu = { forwardMs: 0, samplingMs: 0, submitMs: 0 };

  /** Validates the request, encodes the text (cond and uncond rows) and uploads the all-[MASK] grid. */
  constructor(
    private readonly e: Engine,
    private readonly model: Generator,
    private readonly r: SampleRequest,
  ) {
    const cfg = model.config;
    const Lt = cfg.text.max_len;
    const B = r.batch;
    if (!Number.isInteger(r.steps) || r.steps < 1)
      throw new InvalidRequestError(`steps must be a positive integer, got ${r.steps}`);
    if (!(r.temperature > 0)) throw new InvalidRequestError(`temperature must be > 0, got ${r.temperature}`);
    if (!Number.isFinite(r.guidance) || !Number.isFinite(r.tau))
      throw new InvalidRequestError('guidance and tau must be finite');
    this.guided = r.guidance !== 1;
    if (this.guided && (!r.uncondIds || r.uncondIds.length !== B * Lt))
      throw new InvalidRequestError(
        `guidance ${r.guidance} needs uncondIds of ${B}×${Lt} ids (the negative or empty prompt)`,
      );
    this.batch = B;
    this.steps = r.steps;
    this.HW = cfg.grid * cfg.grid;
    const rows = this.guided ? 2 * B : B;
    const text = new Int32Array(rows * Lt);
    text.set(Array.from(r.ids));
    if (this.guided) text.set(Array.from(r.uncondIds!), B * Lt);
    if (typeof r.seed !== 'number' && (r.seed.length !== B || B > MAX_ROW_KEYS))
      throw new InvalidRequestError(`${r.seed.length} seeds for ${B} rows; one per row, at most ${MAX_ROW_KEYS} rows`);
    const start = startGrid(this.HW, cfg.codebook_size, r.initTokens, r.keep);
    this.masked = start.masked;
    const rowsInit = new Uint32Array(B * this.HW);
    for (let b = 0; b < B; b++) rowsInit.set(start.grid, b * this.HW);
    this.cond = model.encodeText(text, rows);
    this.grid = e.fromArray([B, this.HW], rowsInit, 'u32', 'tokens');
  }

  /** The (B, HW) grid after the steps recorded so far (owned by the run: valid until the next step or dispose). */
  get tokens(): Tensor {
    return this.grid;
  }

  /** Steps recorded so far. */
  get stepsDone(): number {
    return this.done;
  }

  /** Records the next step (forward, Gumbel-max sample, confidence + re-mask) on the GPU and submits it; reads
   *  nothing back. */
  step(): void {
    const { e, r, HW } = this;
    const B = this.batch;
    const i = this.done;
    if (i >= this.steps) throw new InvalidRequestError(`all ${this.steps} steps are done`);
    const t0 = now();
    let img = this.grid; //                                                         (rows, HW)
    if (this.guided) {
      img = e.empty([2 * B, HW], 'u32', 'img_tokens');
      e.copy(this.grid, img, 0); //                                                 cond rows
      e.copy(this.grid, img, B * HW); //                                            uncond rows
    }
    const logits = this.model.logits(img, this.cond); //                            (rows, HW, K)
    const t1 = now();
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
      masked: this.masked,
    });
    for (const t of [logits, smp.tokens, smp.logp, upd.conf, this.grid]) t.dispose();
    if (img !== this.grid) img.dispose();
    this.grid = upd.tokens;
    this.done = i + 1;
    const t2 = now();
    e.flush();
    this.lastStepCpu = { forwardMs: t1 - t0, samplingMs: t2 - t1, submitMs: now() - t2 };
  }

  dispose(): void {
    this.cond.dispose();
    this.grid.dispose();
  }
}

/** The (HW) starting grid: all [MASK], or `initTokens` where `keep` is set and [MASK] elsewhere; and how many
 *  positions are masked. Refuses a grid of the wrong size, a kept token outside the codebook, and a mask that
 *  leaves nothing to generate. */
export function startGrid(
  HW: number,
  codebookSize: number,
  initTokens?: ArrayLike<number>,
  keep?: ArrayLike<number>,
): { grid: Uint32Array; masked: number } {
  const grid = new Uint32Array(HW).fill(codebookSize);
  if (initTokens === undefined && keep === undefined) return { grid, masked: HW };
  if (initTokens === undefined || keep === undefined)
    throw new InvalidRequestError(
      'initTokens and keep come together (the picture to edit and which of its tokens to keep)',
    );
  if (initTokens.length !== HW || keep.length !== HW)
    throw new InvalidRequestError(
      `initTokens (${initTokens.length}) and keep (${keep.length}) must each have ${HW} entries, one per token of the grid`,
    );
  let masked = 0;
  for (let p = 0; p < HW; p++) {
    if (!keep[p]) {
      masked++;
      continue;
    }
    const t = initTokens[p]!;
    if (!Number.isInteger(t) || t < 0 || t >= codebookSize)
      throw new InvalidRequestError(
        `initTokens[${p}] is ${t}; a kept token must be a codebook id from 0 to ${codebookSize - 1}`,
      );
    grid[p] = t;
  }
  if (masked === 0) throw new InvalidRequestError('keep keeps every token: mask at least one token to re-generate');
  return { grid, masked };
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
