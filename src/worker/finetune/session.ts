// One fine-tuning run in the worker: batches from the prepared dataset, the LoRA trainer's steps, typed
// progress (loss, steps/s, time left), textual inversion first when asked (only the new word's own embedding row
// learns; then the LoRA steps on the base with that row), preview images every K steps, the drift guard (control
// prompts rendered with the base model before the first step, with the adapter every `driftEvery` steps and after the
// run: see drift_guard.ts), pause / resume / cancel, the NaN stop and the drift stop.
//
// Invariants:
// - The base weights are only read (the trainer and the previews work on merged copies).
// - Pause and cancel take effect between steps (a step in flight always completes); cancel discards the
//   adapter and frees the trainer. A non-finite step stops the run and keeps the last good adapter.
// - A GPU failure (a step or preview throws, or the worker reports a lost device) stops the run and keeps the last
//   CPU snapshot of the adapter (taken with each preview, or every SNAPSHOT_EVERY steps); with none yet, it throws.
// - A drift stop (stopOnDrift) keeps the adapter of the last drift check within the bounds.
// - Batches are a seeded reshuffle of the pairs per epoch, so the same seed gives the same run.
import type { Engine } from '../../engine/engine';
import type { BaseModelRef, FineTunerHandle, LoraAdapter, LoraConfig, LoraTarget, WeightMap } from '../../finetune/api';
import type { AdaptScope, FineTuneProgress, FineTuneRequest, FineTuneResult, RgbaImage } from '../api';
import type { Dataset } from './dataset';
import type { FineTunePort } from './port';
import { mulberry32 } from '../../engine/rng';
import { clampPrompt } from '../prompt';
import { FINETUNE_SETTINGS } from './settings';
import { StepRate } from './step_rate';
import {
  ADAPT_TARGETS as ADAPT_TARGETS_BY_SCOPE,
  DEFAULT_FINETUNE_OPTIONS,
  DEFAULT_RECIPE,
  DRIFT_GUARD,
  warmupStepsFor,
} from '../../finetune/defaults';
import { DriftGuard, type RenderControls, type RenderSettings } from './drift_guard';
import { configHash } from '../../finetune/lora';
import { configWithWord, NEW_WORD_RE, tokenizerWithWord, weightsWithWord } from '../../finetune/word';
import { GATE_WORD, gateWordFormatProblem, runWord } from '../../finetune/word_gate';
import { BPETokenizer, type TokenizerSpec } from '../../model/bpe';
import { samplingDefault, type SamplingDefaults } from '../../model/settings';

/** Weights that get a LoRA pair, per choice of the request's `adapt` (the one list: src/finetune/defaults.ts). */
export const ADAPT_TARGETS: Readonly<Record<AdaptScope, readonly LoraTarget[]>> = ADAPT_TARGETS_BY_SCOPE;

/** Steps between adapter snapshots when the run makes no previews (a preview takes one anyway). */
export const SNAPSHOT_EVERY = 25;

const S = FINETUNE_SETTINGS;

/** The request with every number checked against FINETUNE_SETTINGS; throws an Error saying which setting is out of
 * range. A preview guidance left out is the generator's recommendation (`recommended`, its index.json `sampling`),
 * else the page-wide default. */
export function checkRequest(req: FineTuneRequest, recommended: SamplingDefaults = {}): Required<FineTuneRequest> {
  if (req === null || typeof req !== 'object') throw new Error('A fine-tuning request must be an object of settings.');
  const int = (v: unknown, name: string, { min, max }: { min: number; max: number }) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${name} must be a whole number from ${min} to ${max} (got ${String(v)}).`);
    return n;
  };
  const lr = Number(req.lr);
  if (!Number.isFinite(lr) || lr < S.lr.min || lr > S.lr.max)
    throw new Error(`Learning rate must be between ${S.lr.min} and ${S.lr.max} (got ${String(req.lr)}).`);
  const adapt = req.adapt ?? 'all';
  if (!Object.hasOwn(ADAPT_TARGETS, adapt))
    throw new Error(
      `What to adapt must be one of ${Object.keys(ADAPT_TARGETS).join(', ')} (got ${String(req.adapt)}).`,
    );
  return {
    rank: int(req.rank, 'Rank', S.rank),
    steps: int(req.steps, 'Steps', S.steps),
    batchSize: int(req.batchSize, 'Batch size', S.batchSize),
    lr,
    previewPrompt: clampPreviewPrompt(req.previewPrompt),
    previewEvery: int(req.previewEvery ?? 0, 'Preview every', S.previewEvery),
    previewSteps: int(req.previewSteps ?? S.previewSteps.default, 'Preview steps', S.previewSteps),
    previewGuidance: previewGuidance(req.previewGuidance, recommended),
    seed: Number(req.seed) >>> 0,
    adapt,
    driftEvery: int(req.driftEvery ?? S.driftEvery.default, 'Drift check every', S.driftEvery),
    driftControls: int(req.driftControls ?? S.driftControls.default, 'Control prompts', S.driftControls),
    stopOnDrift: req.stopOnDrift === undefined ? DRIFT_GUARD.stopOnDrift : req.stopOnDrift === true,
    priorFraction: fraction(req.priorFraction),
    inversionSteps: int(req.inversionSteps ?? S.inversionSteps.default, 'Word steps', S.inversionSteps),
    word: newWord(req.word, req.inversionSteps ?? S.inversionSteps.default),
  };
}

/** Prior preservation's share of a batch: the default when not given, else a number in the setting's range. */
function fraction(v: unknown): number {
  const { min, max, default: fallback } = S.priorFraction;
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new Error(`Prior share must be a number from ${min} to ${max} (got ${String(v)}).`);
  return v;
}

/** The new word ('' when none: the run then uses the captions' guess, word_gate.ts runWord), normalised as the
 *  tokenizer reads it; when given, GATE_WORD's form (1–32 letters or digits, hyphens joining parts). Textual
 *  inversion (inversion steps > 0) needs it given, as letters a–z or digits only (word.ts NEW_WORD_RE). */
function newWord(v: unknown, inversionSteps: unknown): string {
  if (v !== undefined && v !== null && typeof v !== 'string')
    throw new Error(`The new word must be text (got ${typeof v}).`);
  const raw = typeof v === 'string' ? v : '';
  // Bounded before any other work: a huge string is refused by its length.
  const w = raw.length > 4 * GATE_WORD.maxChars ? raw : BPETokenizer.normalise(raw).trim();
  const head = [...raw.slice(0, 82)]; // 82 UTF-16 units hold more than 40 code points when raw is longer
  const shown = JSON.stringify(head.length > 40 ? `${head.slice(0, 40).join('')}…` : raw);
  const bad = w === '' ? null : gateWordFormatProblem(w);
  if (bad) throw new Error(`The new word ${bad} (got ${shown}).`);
  if (Number(inversionSteps) > 0 && !NEW_WORD_RE.test(w))
    throw new Error(
      `Learning the word's own meaning (word steps) needs the new word as letters a–z or digits only (got ${shown}).`,
    );
  return w;
}

/** The preview prompt as text, cut to MAX_PROMPT_CHARS code points (like a generation prompt). */
function clampPreviewPrompt(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new Error(`Preview prompt must be text (got ${typeof v}).`);
  return clampPrompt(v).text;
}

/** Preview guidance: the generator's recommended guidance when not given, else a number in the generation range. */
function previewGuidance(v: unknown, recommended: SamplingDefaults): number {
  const { min, max } = S.previewGuidance;
  if (v === undefined || v === null) return samplingDefault('guidance', recommended);
  const g = Number(v);
  if (typeof v !== 'number' || !Number.isFinite(g) || g < min || g > max)
    throw new Error(`Preview guidance must be a number from ${min} to ${max} (got ${String(v)}).`);
  return g;
}

/** Endless pair indices: a fresh permutation of 0..n-1 per epoch. */
export function batchOrder(n: number, seed: number): () => number {
  const rand = mulberry32(seed ^ 0x9e3779b9); // batch order only; the trainer has its own counter RNG
  let perm: number[] = [];
  let i = 0;
  return () => {
    if (i >= perm.length) {
      perm = Array.from({ length: n }, (_, k) => k);
      for (let k = n - 1; k > 0; k--) {
        const j = Math.floor(rand() * (k + 1));
        [perm[k], perm[j]] = [perm[j]!, perm[k]!];
      }
      i = 0;
    }
    return perm[i++]!;
  };
}

/** Rows of a batch of `batchSize` taken by prior items: round(batchSize·fraction), at most batchSize − 1, 0 without
 *  prior items. */
export function priorRows(batchSize: number, fraction: number, priorItems: number): number {
  if (priorItems === 0 || fraction <= 0) return 0;
  return Math.min(batchSize - 1, Math.max(1, Math.round(batchSize * fraction)));
}

/** Training items: `count` rows of `hw` image tokens and `lt` caption ids. */
export interface Items {
  count: number;
  tokens: Int32Array;
  textIds: Int32Array;
}

/** Fills a batch: rows 0..B−P−1 from the pairs in their seeded order (`nextPair`), the last P rows from the prior
 *  items in theirs (`nextPrior`). */
export function fillBatch(
  out: { tokens: Int32Array; textIds: Int32Array },
  B: number,
  hw: number,
  lt: number,
  pairs: Items,
  nextPair: () => number,
  prior: { items: Items; rows: number; next: () => number } | null,
): void {
  const P = prior?.rows ?? 0;
  for (let b = 0; b < B; b++) {
    const [src, i] = b < B - P ? [pairs, nextPair()] : [prior!.items, prior!.next()];
    out.tokens.set(src.tokens.subarray(i * hw, (i + 1) * hw), b * hw);
    out.textIds.set(src.textIds.subarray(i * lt, (i + 1) * lt), b * lt);
  }
}

/** The prior items of a run: the base renders' token grids with their control prompts' caption ids. */
export function priorItems(
  renders: readonly { tokens: ArrayLike<number> }[],
  prompts: readonly string[],
  encode: (text: string) => Int32Array,
  hw: number,
  lt: number,
): Items {
  const tokens = new Int32Array(renders.length * hw);
  const textIds = new Int32Array(renders.length * lt);
  renders.forEach((r, i) => {
    if (r.tokens.length !== hw)
      throw new Error(`a control render has ${r.tokens.length} tokens; the pictures have ${hw}`);
    tokens.set(Int32Array.from(r.tokens), i * hw);
    textIds.set(encode(prompts[i]!), i * lt);
  });
  return { count: renders.length, tokens, textIds };
}

/** Seed of the prior items' order (its own stream, so turning prior preservation on keeps the pairs' order). */
const PRIOR_ORDER_STREAM = 0x50524952; // 'PRIR'

export interface RunDeps {
  engine: Engine;
  port: FineTunePort;
  base: { ref: BaseModelRef; weights: WeightMap };
  dataset: Dataset;
  emptyTextIds: Int32Array;
  /** Caption ids (text.max_len) of a prompt, as the dataset's captions were encoded (for prior preservation). */
  encodeText(text: string): Int32Array;
  /** The base tokenizer (the manifest's), for textual inversion's word; needed only when it runs. */
  tokenizer?: TokenizerSpec;
  /** The generator's recommended sampling settings (its index.json `sampling`; absent or empty: the page-wide
   *  defaults): the previews and control renders use its tau and temperature, and its guidance when the request
   *  leaves the preview guidance out. */
  sampling?: SamplingDefaults;
  /** Renders the preview prompt with `adapter` merged into a copy of the base. */
  preview(adapter: LoraAdapter, prompt: string, settings: RenderSettings, seed: number): Promise<RgbaImage>;
  /** Renders the drift guard's control prompts with an adapter merged in, or with the base model (null). */
  renderControls: RenderControls;
  onProgress(p: FineTuneProgress): Promise<void>;
}

const now = () => performance.now();

export class FineTuneRun {
  private paused = false;
  private cancelled = false;
  private wake: (() => void) | null = null;
  private trainer: FineTunerHandle | null = null;
  /** The adapter a finished (or NaN-stopped) run leaves; null while running and after a cancel. */
  adapter: LoraAdapter | null = null;
  /** The latest CPU copy of the adapter (taken with each preview, or every SNAPSHOT_EVERY steps without). */
  private snapshot: { adapter: LoraAdapter; step: number } | null = null;
  private failure: Error | null = null;
  /** The learned new word (after the inversion phase): what every adapter of this run carries. */
  private word: { word: string; embedding: Float32Array } | null = null;
  /** The adapter of the last drift check within the bounds: what a drift stop keeps. */
  private lastWithinBounds: { adapter: LoraAdapter; step: number } | null = null;
  readonly req: Required<FineTuneRequest>;
  /** How the previews and the drift guard's controls are drawn. */
  readonly render: RenderSettings;
  stepsDone = 0;

  constructor(
    private readonly deps: RunDeps,
    req: FineTuneRequest,
  ) {
    this.req = checkRequest(req, deps.sampling);
    this.render = {
      steps: this.req.previewSteps,
      guidance: this.req.previewGuidance,
      tau: samplingDefault('tau', deps.sampling),
      temperature: samplingDefault('temperature', deps.sampling),
    };
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  cancel(): void {
    this.cancelled = true;
    this.wake?.();
  }

  /** The GPU is gone (device lost): stop before the next step, keeping the last snapshot (unlike cancel). */
  stopForGpuFailure(err: Error): void {
    this.failure = err;
    this.wake?.();
  }

  private previewPrompt(): string {
    return this.req.previewPrompt.trim() || this.deps.dataset.captions.find((c) => c.trim() !== '') || '';
  }

  /** Reads the adapter back to the CPU: what a GPU failure later in the run still leaves to save. */
  private async takeSnapshot(step: number): Promise<LoraAdapter> {
    const adapter = await this.currentAdapter();
    this.snapshot = { adapter, step };
    return adapter;
  }

  private async sendPreview(step: number): Promise<void> {
    if (!this.trainer) return;
    const prompt = this.previewPrompt();
    const adapter = await this.takeSnapshot(step);
    const image = await this.deps.preview(adapter, prompt, this.render, this.req.seed);
    await this.deps.onProgress({ kind: 'preview', step, prompt, image });
  }

  /** The LoRA trainer's adapter, named after the run's word (the word gate at generation reads it: word_gate.ts),
   *  with the learned row when there is one (the trainer ran on the base config with the word's row; the adapter
   *  names the base itself). */
  private async currentAdapter(): Promise<LoraAdapter> {
    const captions = this.deps.dataset.captions;
    const word = this.word?.word ?? (runWord(this.req.word, captions) || undefined);
    const a = await this.trainer!.getAdapter({ captions, word });
    if (!this.word) return a;
    return {
      ...a,
      info: { ...a.info, baseConfigHash: configHash(this.deps.base.ref.config) },
      wordEmbedding: this.word.embedding,
    };
  }

  /** The pause point between steps (`done` steps so far): reports the pause and waits; false when cancelled, throws a
   *  GPU failure. */
  private async between(done: number): Promise<boolean> {
    if (this.paused && !this.cancelled && !this.failure) {
      await this.deps.onProgress({ kind: 'paused', step: done });
      while (this.paused && !this.cancelled && !this.failure) await new Promise<void>((ok) => (this.wake = ok));
      this.wake = null;
      if (!this.cancelled && !this.failure) await this.deps.onProgress({ kind: 'resumed', step: done });
    }
    if (this.failure) throw this.failure;
    return !this.cancelled;
  }

  /** Textual inversion: `steps` steps of the word's own row on the pairs (captions read with the word as one id).
   *  Returns the base with the learned row for the LoRA phase, or null when cancelled or stopped (non-finite). */
  private async wordPhase(
    rate: StepRate,
    total: number,
    losses: number[],
  ): Promise<{ ref: BaseModelRef; weights: WeightMap; textIds: Int32Array } | null> {
    const { dataset: ds, port, engine, base } = this.deps;
    const r = this.req;
    if (!this.deps.tokenizer) throw new Error('textual inversion needs the base tokenizer');
    const tok = new BPETokenizer(tokenizerWithWord(this.deps.tokenizer, r.word), ds.lt);
    const textIds = new Int32Array(ds.count * ds.lt);
    ds.captions.forEach((c, i) => {
      textIds.set(tok.encode(c), i * ds.lt);
    });
    const pairs = { count: ds.count, tokens: ds.tokens, textIds };
    const inv = port.createWordInversion(engine, base, this.deps.tokenizer, r.word, {
      ...DEFAULT_FINETUNE_OPTIONS,
      batchSize: r.batchSize,
      lr: DEFAULT_RECIPE.inversionLr,
      warmupSteps: warmupStepsFor(r.inversionSteps),
      totalSteps: r.inversionSteps,
      seed: r.seed,
      emptyTextIds: this.deps.emptyTextIds,
    });
    try {
      const next = batchOrder(ds.count, r.seed);
      const batch = { tokens: new Int32Array(r.batchSize * ds.hw), textIds: new Int32Array(r.batchSize * ds.lt) };
      for (let step = 1; step <= r.inversionSteps; step++) {
        if (!(await this.between(step - 1))) return null;
        fillBatch(batch, r.batchSize, ds.hw, ds.lt, pairs, next, null);
        const ts = now();
        const res = await inv.step(batch);
        losses.push(res.loss);
        if (!res.applied) {
          await this.deps.onProgress({
            kind: 'nan-stop',
            step,
            message: `Learning the word stopped at step ${step}: the loss or gradient became infinite or NaN. Nothing to keep; start again.`,
          });
          return null;
        }
        rate.add((now() - ts) / 1000);
        await this.deps.onProgress({
          kind: 'step',
          step,
          totalSteps: total,
          phase: 'word',
          loss: res.loss,
          gradNorm: res.gradNorm,
          lr: res.lr,
          stepsPerSec: rate.stepsPerSec(),
          etaSec: rate.etaSec(total - step),
        });
      }
      const embedding = await inv.embedding();
      this.word = { word: r.word, embedding };
      return {
        ref: { ...base.ref, config: configWithWord(base.ref.config, inv.id) },
        weights: weightsWithWord(base.weights, inv.id, embedding),
        textIds,
      };
    } finally {
      inv.dispose();
    }
  }

  /** A drift check at `step` (all controls when `final`, else the first DRIFT_GUARD.duringRun); returns the adapter
   *  it checked and whether the run should stop for drift. */
  private async checkDrift(
    guard: DriftGuard,
    step: number,
    final: boolean,
  ): Promise<{ adapter: LoraAdapter; stop: boolean }> {
    const adapter = await this.takeSnapshot(step);
    const c = await guard.check(adapter, final ? guard.controls.length : DRIFT_GUARD.duringRun);
    await this.deps.onProgress({
      kind: 'drift',
      step,
      final,
      prompts: c.controls.map((k) => k.prompt),
      images: c.renders.map((k) => k.image),
      report: c.report,
    });
    if (c.report.withinBounds) this.lastWithinBounds = { adapter, step };
    return { adapter, stop: !c.report.withinBounds && this.req.stopOnDrift };
  }

  /** Stops for drift: keeps the last adapter within the bounds (or, with none, the one just checked). */
  private async stopForDrift(step: number, checked: LoraAdapter): Promise<void> {
    const keep = this.lastWithinBounds;
    this.adapter = keep?.adapter ?? checked;
    this.stepsDone = keep?.step ?? step;
    await this.deps.onProgress({
      kind: 'drift-stop',
      step,
      savedStep: keep?.step ?? 0,
      message:
        `Training stopped at step ${step}: forced on, the adapter changed prompts it was not taught (the control pictures drifted past the bound; prompts without the word are not affected). ` +
        (keep
          ? `The adapter as it was after step ${keep.step}, the last within the bound, is kept.`
          : `No check was within the bound; the adapter as it is now is kept. Try fewer steps or a lower learning rate.`),
    });
  }

  async run(): Promise<FineTuneResult> {
    const t0 = now();
    const { dataset: ds, port, engine, base } = this.deps;
    const r = this.req;
    const B = r.batchSize;
    const lora: LoraConfig = { rank: r.rank, alpha: r.rank, targets: [...ADAPT_TARGETS[r.adapt]] };
    // The base renders first, while no trainer holds GPU memory.
    const guard = new DriftGuard(this.deps.renderControls, this.render, r.driftControls);
    const baseControls = await guard.baseline();
    const I = r.inversionSteps;
    const total = I + r.steps;
    const losses: number[] = [];
    const rate = new StepRate();
    await this.deps.onProgress({ kind: 'start', totalSteps: total, pairs: ds.count, batchSize: B });
    await this.deps.onProgress({
      kind: 'controls',
      prompts: guard.controls.map((k) => k.prompt),
      images: baseControls.map((k) => copyImage(k.image)),
    });
    const wordBase = I > 0 ? await this.wordPhase(rate, total, losses) : null;
    if (I > 0 && !wordBase) {
      const status = this.cancelled ? 'cancelled' : 'stopped';
      const ms = now() - t0;
      await this.deps.onProgress({ kind: 'done', status, steps: 0, ms });
      return { status, steps: 0, losses, ms, canSave: false };
    }
    const pairs = wordBase ? { count: ds.count, tokens: ds.tokens, textIds: wordBase.textIds } : ds;
    this.trainer = port.createTrainer(engine, wordBase ?? base, lora, {
      ...DEFAULT_FINETUNE_OPTIONS,
      batchSize: B,
      lr: r.lr,
      warmupSteps: warmupStepsFor(r.steps),
      totalSteps: r.steps,
      seed: r.seed,
      emptyTextIds: this.deps.emptyTextIds,
    });
    let status: FineTuneResult['status'] = 'done';
    try {
      const next = batchOrder(ds.count, r.seed);
      const rows = priorRows(B, r.priorFraction, baseControls.length);
      const prior = rows
        ? {
            items: priorItems(
              baseControls,
              guard.controls.map((k) => k.prompt),
              (t) => this.deps.encodeText(t),
              ds.hw,
              ds.lt,
            ),
            rows,
            next: batchOrder(baseControls.length, (r.seed ^ PRIOR_ORDER_STREAM) >>> 0),
          }
        : null;
      const batch = { tokens: new Int32Array(B * ds.hw), textIds: new Int32Array(B * ds.lt) };
      // LoRA steps are numbered after the word's: I + 1 .. total
      for (let step = I + 1; step <= total; step++) {
        if (!(await this.between(step - 1))) break;
        fillBatch(batch, B, ds.hw, ds.lt, pairs, next, prior);
        const ts = now();
        const res = await this.trainer.step(batch);
        const dt = (now() - ts) / 1000;
        losses.push(res.loss);
        if (!res.applied) {
          status = 'stopped';
          const what =
            res.nonFinite === 'update' ? 'the update' : res.nonFinite === 'gradNorm' ? 'the gradient' : 'the loss';
          await this.deps.onProgress({
            kind: 'nan-stop',
            step,
            message:
              `Training stopped at step ${step}: ${what} became infinite or NaN (the learning rate ${r.lr} is probably too high). ` +
              `The adapter keeps its last good weights (${this.trainer.stepsDone} steps); lower the learning rate and start again.`,
          });
          break;
        }
        this.stepsDone = this.trainer.stepsDone;
        rate.add(dt);
        await this.deps.onProgress({
          kind: 'step',
          step,
          totalSteps: total,
          phase: 'lora',
          loss: res.loss,
          gradNorm: res.gradNorm,
          lr: res.lr,
          stepsPerSec: rate.stepsPerSec(),
          etaSec: rate.etaSec(total - step),
        });
        const last = step === total;
        if (!this.cancelled && !last && r.previewEvery > 0 && step % r.previewEvery === 0) await this.sendPreview(step);
        else if (!this.cancelled && !last && r.previewEvery === 0 && step % SNAPSHOT_EVERY === 0)
          await this.takeSnapshot(step);
        if (!this.cancelled && !last && r.driftEvery > 0 && step % r.driftEvery === 0) {
          const d = await this.checkDrift(guard, step, false);
          if (d.stop) {
            status = 'stopped';
            await this.stopForDrift(step, d.adapter);
            break;
          }
        }
      }
      if (this.cancelled) status = 'cancelled';
      else if (this.trainer.stepsDone > 0 && !this.adapter) {
        if (status === 'done') {
          const n = this.trainer.stepsDone;
          await this.sendPreview(n);
          const d = await this.checkDrift(guard, n, true);
          if (d.stop) {
            status = 'stopped';
            await this.stopForDrift(n, d.adapter);
          } else this.adapter = d.adapter;
        }
        this.adapter ??= await this.currentAdapter();
      }
    } catch (err) {
      // A GPU failure (lost device, out of memory) mid-run: keep the last snapshot rather than nothing.
      const snap = this.snapshot;
      if (this.cancelled || !snap) throw err;
      status = 'stopped';
      this.adapter = snap.adapter;
      this.stepsDone = snap.step;
      await this.deps.onProgress({
        kind: 'error-stop',
        step: this.trainer?.stepsDone ?? snap.step,
        savedStep: snap.step,
        message:
          `Training stopped: ${err instanceof Error ? err.message : String(err)}. ` +
          `The adapter as it was after step ${snap.step} can still be saved; the base model and saved adapters are untouched.`,
      });
    } finally {
      this.trainer.dispose();
      this.trainer = null;
    }
    if (this.cancelled) {
      status = 'cancelled';
      this.adapter = null;
    }
    const ms = now() - t0;
    await this.deps.onProgress({ kind: 'done', status, steps: this.stepsDone, ms });
    return { status, steps: this.stepsDone, losses, ms, canSave: this.adapter !== null };
  }
}

/** A copy of an image (the base renders are kept for every check; what crosses to the page is given away). */
function copyImage(img: RgbaImage): RgbaImage {
  return { width: img.width, height: img.height, rgba: img.rgba.slice() };
}
