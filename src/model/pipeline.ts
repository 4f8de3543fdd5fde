// Text → image: tokenizer → generator (M-Mamba or UViT, MaskGIT with classifier-free guidance) → VQ decoder for
// the per-step previews and the result. DOM-free (runs in the browser worker and in Node on Dawn). The sampler is
// src/model/sampler.ts (docs/architecture.md "MaskGIT sampler"); guidance = uncond + g·(cond − uncond) in one
// batch-2 forward, where uncond is the negative prompt or the empty prompt; g = 1 skips the uncond pass. Masked
// positions of the per-step previews are decoded as the VQ's neutral token and reported in `masked` for the UI to
// overlay. The token grid stays on the GPU for the whole run (MaskGitRun); each step ends in one readback: the packed
// preview (RGBA8 pixels + the grid, VQDecoder.preview) when the step's preview is decoded, else the grid alone, and
// nothing is uploaded per step. Previews are paced to the display (GenerateRequest.previewEveryMs): a decode is about
// half of a guided step's GPU time on the H200, and a screen shows one frame per ~16.7 ms anyway; the first step is
// always decoded (the first picture as soon as possible) and so is the final one (the result never depends on the
// pacing); decodePreview decodes a paced-away step's grid on demand. Steps are recorded and submitted `lookahead` steps
// ahead of the readback being awaited, so the GPU has queued work while the CPU waits for a map, reports a step and
// records the next; steps still arrive one per step, in order.
// Editing: a request may carry a starting grid and a keep-mask (kept tokens fixed from step 0, the others generated
// over the steps; src/model/sampler.ts). Variations: N seeds (seed, seed+1, … mod 2^32) of one request drawn as one
// batch of N rows (2N with guidance) per step; variation i equals a single generation with seed + i.
import type { Engine } from '../engine/engine';
import type { Tensor } from '../engine/tensor';
import { WeightIntegrityError } from '../engine/errors';
import { BPETokenizer, type TokenizerSpec } from './bpe';
import type { MMambaConfig, UViTConfig, VQConfig } from './common';
import { GenerationCancelledError, InvalidRequestError } from './errors';
import { GENERATION_SETTINGS, settingProblem, type Remask } from './settings';
import {
  checkerboardRows,
  DEFAULT_REMASK,
  keepForStrength,
  keepFromScores,
  keepOnlyCodes,
  maskedCountForStrength,
} from './strength_mask';
import type { Generator } from './generator';
import { MMamba } from './mmamba';
import { MaskGitRun } from './sampler';
import { UViT } from './uvit';
import { VQDecoder } from './vq_decoder';
import type { Manifest, WeightMap } from './weights';

export { GenerationCancelledError, InvalidRequestError } from './errors';

export interface GenerateRequest {
  prompt: string;
  negativePrompt?: string;
  seed: number;
  /** MaskGIT steps; this and the settings below: ranges and defaults in GENERATION_SETTINGS (./settings.ts). */
  steps: number;
  /** Classifier-free guidance scale g (1 = off). */
  guidance: number;
  /** Choice temperature of the re-masking noise (default GENERATION_SETTINGS.tau.default). */
  tau?: number;
  /** Token sampling temperature (default GENERATION_SETTINGS.temperature.default). */
  temperature?: number;
  /** (HW) the picture to edit as a token grid; with `keep`. */
  initTokens?: ArrayLike<number>;
  /** (HW) 1 = keep that token of `initTokens`, 0 = generate it anew (at least one 0). */
  keep?: ArrayLike<number>;
  /** Images drawn at once with seeds seed, seed+1, …: 1 (default) to GENERATION_SETTINGS.variations.max. */
  variations?: number;
  /** Image-to-image (with `initTokens`, instead of `keep`): round(strength·HW) tokens re-drawn, 0 < that; 1 draws a
   *  plain generation. */
  strength?: number;
  /** Which tokens `strength` re-draws (default DEFAULT_REMASK): src/model/strength_mask.ts. */
  remask?: Remask;
  /** Preview pacing, wall ms (default DEFAULT_PREVIEW_EVERY_MS, one display frame; 0: every step; Infinity: the
   *  first and final steps only): the first step's preview is always decoded, and a later step's only when at least
   *  this long has passed since the last decoded one was submitted; the other steps read back their grid alone
   *  (GenerateStep.pixels absent; TextToImage.decodePreview makes their picture on demand). The final step is
   *  always decoded; tokens and result do not depend on the pacing. */
  previewEveryMs?: number;
}

/** GenerateRequest.previewEveryMs's default: one frame of a 60 Hz display. */
export const DEFAULT_PREVIEW_EVERY_MS = 1000 / 60;

export interface GenerateStep {
  step: number;
  steps: number;
  /** Images in this step (the request's variations, 1 by default); the arrays below hold them one after another. */
  count: number;
  /** (count, HW) token grids; [MASK] = codebook_size where still masked. */
  tokens: Uint32Array;
  /** (count, HW) 1 where the token is still masked. */
  masked: Uint8Array;
  /** (count) RGBA images of imageSize × imageSize; absent on a step whose preview decode was skipped
   *  (GenerateRequest.previewEveryMs): a viewer keeps the image it shows (decodePreview(tokens, count) gives the
   *  step's own). Always present on the first and final steps. */
  pixels?: Uint8ClampedArray;
  /** Side of each image in pixels (the VQ's image_size: 128 for the shipped one), also when `pixels` is absent. */
  imageSize: number;
  /** Wall time from the previous step's report (or the start of sampling) to this step's preview in hand, ms. */
  msStep: number;
}

export interface GenerateResult {
  /** Images (the request's variations, 1 by default); `tokens` (count, HW) and `pixels` (count RGBA images) hold them
   * in order. */
  count: number;
  tokens: Uint32Array;
  pixels: Uint8ClampedArray;
  /** (HW) the keep-mask the edit used (1 = kept), e.g. the one a strength chose; absent for a plain generation. */
  keep?: Uint8Array;
  timings: {
    totalMs: number;
    /** Per step: recording (CPU) the generator forward, sampling and the preview decode, and submitting them; the
     *  GPU runs behind. */
    sampleMs: number[];
    /** Per step: from the step's submission to its readback in hand (GPU work of this and queued steps + map). */
    decodeMs: number[];
    /** Per step: where the CPU time went (bench/latency.ts "CPU per step"). */
    cpu: StepCpuBreakdown[];
  };
}

/** One step's CPU time, ms. forward + sampling + preview + submit = GenerateResult.timings.sampleMs. */
export interface StepCpuBreakdown {
  /** Recording the generator forward (MaskGitRun.step). */
  forwardMs: number;
  /** Recording Gumbel-max sampling and the re-mask. */
  samplingMs: number;
  /** Recording the preview decode (about 0 on a step whose decode was skipped). */
  previewMs: number;
  /** Submitting the step's two command buffers (Dawn encodes the backend's commands here). */
  submitMs: number;
  /** Awaiting the step's readback (the GPU still busy with it or earlier steps, then the map). */
  waitMs: number;
  /** Unpacking the readback (pixels when decoded, grid, mask) and the onStep callback. */
  reportMs: number;
}

export interface LoadedModel {
  manifest: Manifest;
  weights: WeightMap;
}

/** A step recorded and submitted whose readback has not been awaited yet. */
interface InFlight {
  /** The packed preview (pixels, then the grid) being read back; absent: the grid alone is (decode skipped). */
  packed?: Tensor;
  words: Promise<ArrayLike<number>>;
  tRecorded: number;
  recordMs: number;
  cpu: StepCpuBreakdown;
}

/** Steps submitted ahead of the readback awaited (TextToImage.lookahead's default): with 2, the GPU has a whole
 *  step queued even while the CPU waits for a map callback (cancelling then drops at most 2 steps' work). */
export const DEFAULT_LOOKAHEAD = 2;

/** `ids` repeated `n` times, one row per image of a batch. */
function repeatRows(ids: Int32Array | ArrayLike<number>, n: number): Int32Array {
  const out = new Int32Array(ids.length * n);
  for (let b = 0; b < n; b++) out.set(Array.from(ids), b * ids.length);
  return out;
}

/** The RGBA8 pixels of a read-back VQDecoder.preview (`pixelCount` pixels, then the grids), in their own buffer:
 *  callers may transfer it. */
function previewPixels(words: Uint32Array, pixelCount: number): Uint8ClampedArray {
  return new Uint8ClampedArray(words.buffer.slice(0, pixelCount * 4));
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** The generator of a manifest of kind 'mmamba' (else UViT; callers check the kind first). */
export function createGenerator(engine: Engine, manifest: Manifest, weights: WeightMap): Generator {
  return manifest.kind === 'mmamba'
    ? new MMamba(engine, manifest.config as unknown as MMambaConfig, weights)
    : new UViT(engine, manifest.config as unknown as UViTConfig, weights);
}

export class TextToImage {
  readonly tokenizer: BPETokenizer;
  /** Steps submitted before the oldest step's readback is awaited (0: each step is awaited before the next is
   *  recorded). The result is the same for any value; only the overlap of CPU and GPU changes. */
  lookahead = DEFAULT_LOOKAHEAD;
  private busy: Promise<unknown> = Promise.resolve();
  private running = 0;
  private disposed = false;

  private constructor(
    private readonly e: Engine,
    readonly generator: Generator,
    readonly decoder: VQDecoder,
    tokenizer: BPETokenizer,
  ) {
    this.tokenizer = tokenizer;
  }

  /** Builds the generator and decoder from loaded weights (uploads them once). `tokenizer` overrides the
   *  generator manifest's (tests with tiny fixtures that ship none). */
  static create(engine: Engine, gen: LoadedModel, vq: LoadedModel, tokenizer?: TokenizerSpec): TextToImage {
    const gm = gen.manifest;
    if (gm.kind !== 'mmamba' && gm.kind !== 'uvit')
      throw new WeightIntegrityError(`${gm.modelId} is a ${gm.kind} model, not a generator`);
    if (vq.manifest.kind !== 'vq')
      throw new WeightIntegrityError(`${vq.manifest.modelId} is a ${vq.manifest.kind} model, not a VQ tokenizer`);
    const spec = tokenizer ?? (gm.tokenizer as TokenizerSpec | null | undefined);
    if (!spec) throw new WeightIntegrityError(`${gm.modelId} has no tokenizer in its manifest`);
    const gcfg = gm.config as unknown as MMambaConfig | UViTConfig;
    const vcfg = vq.manifest.config as unknown as VQConfig;
    const tok = new BPETokenizer(spec, gcfg.text.max_len);
    if (tok.vocabSize > gcfg.text.vocab_size)
      throw new WeightIntegrityError(
        `tokenizer has ${tok.vocabSize} ids but the text encoder only ${gcfg.text.vocab_size}`,
      );
    const generator = createGenerator(engine, gm, gen.weights);
    let decoder: VQDecoder;
    try {
      decoder = new VQDecoder(engine, vcfg, vq.weights);
      if (decoder.grid !== gcfg.grid || gcfg.codebook_size > vcfg.codebook_size)
        throw new WeightIntegrityError(
          `${gm.modelId} (grid ${gcfg.grid}, ${gcfg.codebook_size} codes) does not fit ${vq.manifest.modelId} (grid ${decoder.grid}, ${vcfg.codebook_size} codes)`,
        );
    } catch (err) {
      generator.dispose();
      throw err;
    }
    return new TextToImage(engine, generator, decoder, tok);
  }

  /** Runs one generation; calls are queued, one at a time. Throws GenerationCancelledError when `signal` aborts
   *  (checked between steps) and InvalidRequestError for out-of-range settings. */
  generate(
    req: GenerateRequest,
    onStep?: (s: GenerateStep) => void | Promise<void>,
    signal?: AbortSignal,
  ): Promise<GenerateResult> {
    return this.queued(() => this.run(req, onStep, signal));
  }

  /** The step preview of token grids (count, HW), as a step of generate reports it (VQDecoder.preview: ids that are
   *  not codebook ids, e.g. [MASK], decoded as the neutral token; RGBA8 rounded on the GPU): (count) RGBA images of
   *  imageSize². What a step whose preview was paced away (GenerateRequest.previewEveryMs) shows when asked for.
   *  Queued with the generations; InvalidRequestError for a grid of another size or an id that is not a u32. */
  decodePreview(tokens: ArrayLike<number>, count = 1): Promise<Uint8ClampedArray> {
    return this.queued(async () => {
      if (this.disposed) throw new InvalidRequestError('this TextToImage was disposed; create a new one');
      const HW = this.decoder.grid ** 2;
      if (!Number.isInteger(count) || count < 1 || tokens.length !== count * HW)
        throw new InvalidRequestError(`a token grid has ${HW} entries; got ${tokens.length} for ${count} image(s)`);
      for (let i = 0; i < tokens.length; i++) {
        const t = tokens[i]!;
        if (!(Number.isInteger(t) && t >= 0 && t <= 0xffffffff))
          throw new InvalidRequestError(`token ${i} is ${t}; tokens are integers from 0 to 2^32 - 1`);
      }
      const grid = this.e.fromArray([count, HW], tokens, 'u32', 'preview_grid');
      let packed: Tensor | undefined;
      try {
        packed = this.decoder.preview(grid); //              (count·S² + count·HW) u32: RGBA8 pixels, then the grid
        const words = (await this.e.read(packed)) as Uint32Array;
        return previewPixels(words, count * this.decoder.imageSize ** 2);
      } finally {
        packed?.dispose();
        grid.dispose();
      }
    });
  }

  /** Runs `work` after every call queued before it, one at a time (dispose waits for the one running). */
  private queued<T>(work: () => Promise<T>): Promise<T> {
    const run = this.busy.then(async () => {
      this.running++;
      try {
        return await work();
      } finally {
        this.running--;
      }
    });
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async run(
    req: GenerateRequest,
    onStep?: (s: GenerateStep) => void | Promise<void>,
    signal?: AbortSignal,
  ): Promise<GenerateResult> {
    if (this.disposed) throw new InvalidRequestError('this TextToImage was disposed; create a new one');
    // Asserts for programmer errors only: users' requests were checked (with the same ranges) at the worker
    // boundary, src/worker/generation/requests.ts. The seed may be any safe integer; it is used mod 2^32.
    const steps = req.steps;
    const tau = req.tau ?? GENERATION_SETTINGS.tau.default;
    const temperature = req.temperature ?? GENERATION_SETTINGS.temperature.default;
    const count = req.variations ?? 1;
    const previewEveryMs = req.previewEveryMs ?? DEFAULT_PREVIEW_EVERY_MS;
    const problem =
      settingProblem('steps', steps) ??
      settingProblem('guidance', req.guidance) ??
      settingProblem('tau', tau) ??
      settingProblem('temperature', temperature) ??
      (count === 1 ? undefined : settingProblem('variations', count));
    if (problem) throw new InvalidRequestError(problem);
    if (!Number.isInteger(steps)) throw new InvalidRequestError(`steps is ${steps}; it must be an integer`);
    if (!Number.isInteger(count)) throw new InvalidRequestError(`variations is ${count}; it must be an integer`);
    if (!Number.isSafeInteger(req.seed)) throw new InvalidRequestError(`seed must be an integer, got ${req.seed}`);
    if (!(previewEveryMs >= 0))
      throw new InvalidRequestError(`previewEveryMs is ${previewEveryMs}; it must be 0 (every step) or more`);
    if (typeof req.prompt !== 'string')
      throw new InvalidRequestError('prompt must be a string (empty = unconditional)');
    if (signal?.aborted) throw new GenerationCancelledError(0);

    const t0 = now();
    const maskId = this.generator.config.codebook_size;
    const ids = repeatRows(this.tokenizer.encode(req.prompt), count); // truncated to max_len; one row per image
    const uncond = repeatRows(this.tokenizer.encode(req.negativePrompt ?? ''), count);
    const S2 = this.decoder.imageSize ** 2;
    const sampleMs: number[] = [];
    const decodeMs: number[] = [];
    let pixels: Uint8ClampedArray = new Uint8ClampedArray(0);
    let tokens: Uint32Array = new Uint32Array(0);
    const edit =
      req.strength === undefined ? { initTokens: req.initTokens, keep: req.keep } : await this.strengthEdit(req);
    const run = new MaskGitRun(this.e, this.generator, {
      ids,
      uncondIds: uncond,
      batch: count,
      steps,
      guidance: req.guidance,
      tau,
      temperature,
      // one image: the batch's seed; variations: one seed each, so that image i is the single run with seed + i
      seed: count === 1 ? req.seed >>> 0 : Array.from({ length: count }, (_, i) => (req.seed + i) >>> 0),
      initTokens: edit.initTokens,
      keep: edit.keep,
    });
    // Steps i+1 … i+lookahead are recorded and submitted before step i's readback is awaited. The grid never
    // leaves the GPU, so no step depends on the readback of an earlier one.
    const cpu: StepCpuBreakdown[] = [];
    // Pacing is decided as a step is submitted (its decode is recorded with it): the first step (the first picture
    // as soon as possible), the final one, and in between a step submitted at least previewEveryMs after the last
    // decoded one (tDecoded).
    let tDecoded = 0;
    const submit = (): InFlight => {
      const tStep = now();
      const first = run.stepsDone === 0;
      const last = run.stepsDone === steps - 1;
      run.step(); //                                        the grid stays on the GPU; submits the step
      const tPreview = now();
      const decode = first || last || previewEveryMs === 0 || tStep - tDecoded >= previewEveryMs;
      if (decode) tDecoded = tStep;
      // decoded: (N·S² + N·HW) u32, RGBA8 pixels then the grids; skipped: the (N, HW) grid itself, copied to the
      // readback's staging buffer as this step is submitted (the next step replaces the grid, never overwrites it)
      const packed = decode ? this.decoder.preview(run.tokens) : undefined;
      const tSubmit = now();
      const words = this.e.read(packed ?? run.tokens); //   submits now; the step's only readback
      words.catch(() => undefined); //                      awaited below, or dropped on cancel
      const tRecorded = now();
      const s = run.lastStepCpu;
      return {
        packed,
        words,
        tRecorded,
        recordMs: tRecorded - tStep,
        cpu: {
          forwardMs: s.forwardMs,
          samplingMs: s.samplingMs,
          previewMs: tSubmit - tPreview,
          submitMs: s.submitMs + (tRecorded - tSubmit),
          waitMs: 0,
          reportMs: 0,
        },
      };
    };
    const lookahead = Math.max(0, Math.floor(this.lookahead));
    const queued: InFlight[] = [];
    let cur: InFlight | undefined;
    try {
      let tPrev = now();
      for (let i = 0; i < steps; i++) {
        if (signal?.aborted || this.disposed) throw new GenerationCancelledError(i);
        while (queued.length <= lookahead && run.stepsDone < steps) queued.push(submit());
        cur = queued.shift()!;
        const tWait = now();
        const words = (await cur.words) as Uint32Array;
        cur.packed?.dispose();
        const tEnd = now();
        sampleMs.push(cur.recordMs);
        decodeMs.push(tEnd - cur.tRecorded);
        let stepPixels: Uint8ClampedArray | undefined;
        if (cur.packed) {
          stepPixels = pixels = previewPixels(words, count * S2);
          tokens = words.slice(count * S2); //                [MASK] where still masked
        } else tokens = words; //                            the grid alone, already in its own buffer
        const masked = Uint8Array.from(tokens, (t) => (t === maskId ? 1 : 0));
        if (onStep)
          await onStep({
            step: i,
            steps,
            count,
            tokens,
            masked,
            pixels: stepPixels,
            imageSize: this.decoder.imageSize,
            msStep: tEnd - tPrev,
          });
        tPrev = now();
        cpu.push({ ...cur.cpu, waitMs: tEnd - tWait, reportMs: tPrev - tEnd });
      }
    } finally {
      // a cancelled or failed run's steps in flight: their buffers go back to the pool, reused only by later work
      cur?.packed?.dispose();
      for (const q of queued) q.packed?.dispose();
      run.dispose();
    }
    const keep = edit.keep ? Uint8Array.from(edit.keep) : undefined;
    return { count, tokens, pixels, keep, timings: { totalMs: now() - t0, sampleMs, decodeMs, cpu } };
  }

  /** Image-to-image: the keep-mask `req.strength` chooses over `req.initTokens` (src/model/strength_mask.ts);
   *  no edit at all when every token is re-drawn. */
  private async strengthEdit(req: GenerateRequest): Promise<{ initTokens?: ArrayLike<number>; keep?: Uint8Array }> {
    const init = req.initTokens;
    const K = this.generator.config.codebook_size;
    const HW = this.generator.config.grid ** 2;
    if (!init || init.length !== HW)
      throw new InvalidRequestError(`initTokens must have ${HW} entries, one per token of the grid`);
    const s = req.strength!;
    if (maskedCountForStrength(HW, s) === 0) throw new InvalidRequestError(`strength ${s} re-draws no token`);
    const how = req.remask ?? DEFAULT_REMASK;
    const keep = keepOnlyCodes(
      how === 'confidence'
        ? keepFromScores(await this.tokenConfidence(req.prompt, init), s)
        : keepForStrength(HW, s, req.seed >>> 0),
      init,
      K,
    );
    return keep.includes(1) ? { initTokens: init, keep } : {};
  }

  /** (HW) log p(token | prompt, the other checkerboard colour) of each token of `grid`, from one batch-2 forward
   *  without guidance (training/mmamba/sampling.py token_confidence); -Infinity where the token is not a codebook
   *  id. Rounded to f32, as PyTorch computes it, so that ties break the same way. */
  async tokenConfidence(prompt: string, grid: ArrayLike<number>): Promise<Float64Array> {
    const cfg = this.generator.config;
    const K = cfg.codebook_size;
    const HW = cfg.grid ** 2;
    const rows = checkerboardRows(cfg.grid);
    const input = new Uint32Array(2 * HW);
    for (let i = 0; i < 2 * HW; i++) {
      const t = grid[i % HW]!;
      input[i] = rows[i] || !(t < K) ? K : t;
    }
    const cond = this.generator.encodeText(repeatRows(this.tokenizer.encode(prompt), 2), 2);
    const tokens = this.e.fromArray([2, HW], input, 'u32', 'confidence_tokens');
    let logits: Float32Array;
    try {
      const t = this.generator.logits(tokens, cond); //           (2, HW, K)
      try {
        logits = await this.e.readF32(t);
      } finally {
        t.dispose();
      }
    } finally {
      tokens.dispose();
      cond.dispose();
    }
    const scores = new Float64Array(HW);
    for (let p = 0; p < HW; p++) {
      const t = grid[p]!;
      if (!(t < K)) {
        scores[p] = Number.NEGATIVE_INFINITY;
        continue;
      }
      const o = ((rows[p] ? 0 : HW) + p) * K; //                   the row where p is masked
      let max = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < K; k++) max = Math.max(max, logits[o + k]!);
      let sum = 0;
      for (let k = 0; k < K; k++) sum += Math.exp(logits[o + k]! - max);
      scores[p] = Math.fround(logits[o + t]! - max - Math.log(sum));
    }
    return scores;
  }

  /** Frees every GPU tensor of the generator and decoder. A generation in flight stops at its next step
   *  (GenerationCancelledError) and the tensors are freed once it has settled; queued ones are refused. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const free = () => {
      this.generator.dispose();
      this.decoder.dispose();
    };
    if (this.running === 0) free();
    else void this.busy.then(free);
  }
}
