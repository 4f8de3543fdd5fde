// WordInversion: textual inversion (Gal et al. 2022) of one new word on the GPU: only the word's row of the text
// embedding table learns (word.ts gives the word its id, its tokenizer and its table), the model is otherwise the
// base, so no prompt without the word can change: its ids never read that row. The first phase of teaching a word
// (then a LoRA on top, trainer.ts, from the base with the learned row).
// A step, as FineTuner's (trainer.ts) with one parameter, the row (1, w):
//   1. text dropout and the training mask (masking.ts, same counter RNG streams and seed as FineTuner)
//   2. table = [base rows before id ; row ; base rows after id] (concat on the GPU; the base rows are constants)
//   3. forward, masked cross-entropy, backward to the table (micro-batches weighted by their masked tokens)
//   4. the row's gradient = the table gradient's row `id` (the other rows' gradients, of the caption's other
//      words, are dropped); AdamW with clipping to its norm; NaN guard as FineTuner's
import type { Engine } from '../engine/engine';
import { adamwStep, sumOfSquares, sumSlots, type AdamWState } from '../engine/ops/adamw';
import { add } from '../engine/ops/elementwise';
import { concatRows, sliceRows } from '../engine/ops/model_glue';
import type { Tensor } from '../engine/tensor';
import type { TokenizerSpec } from '../model/bpe';
import { reshapeOwned, view } from '../model/common';
import type { BaseModelRef, FineTuneOptions, StepResult, TrainingBatch, WeightMap } from './api';
import { InvalidBatchError, InvalidFineTuneOptionsError } from './errors';
import { dropText, maskForTraining, microBatches } from './masking';
import { largestMicroBatch } from './memory';
import { MMambaAutodiff } from './mmamba_autodiff';
import { learningRateAt, resolveOptions, type Resolved } from './trainer';
import { configWithWord, initialWordVector, newWordId, TEXT_TABLE, weightsWithWord, checkNewWord } from './word';
import type { MMambaConfig } from '../model/common';

export class WordInversion {
  /** The word's id (its row of the table). */
  readonly id: number;
  readonly word: string;
  /** The base config with a table that has the word's row. */
  readonly config: MMambaConfig;
  readonly options: Readonly<Resolved>;
  readonly microBatch: number;
  private readonly model: MMambaAutodiff;
  private row: AdamWState;
  /** Base rows before and after the word's (constants; `after` null when the row is the table's last). */
  private readonly before: Tensor;
  private readonly after: Tensor | null;
  private readonly rows: number;
  private readonly width: number;
  private attempts = 0;
  private applied = 0;
  private disposed = false;

  constructor(
    private readonly e: Engine,
    base: { ref: BaseModelRef; weights: WeightMap },
    tokenizer: TokenizerSpec,
    word: string,
    options: Partial<FineTuneOptions> = {},
    init?: Float32Array,
  ) {
    this.word = checkNewWord(word);
    this.id = newWordId(tokenizer);
    this.config = configWithWord(base.ref.config, this.id);
    this.options = resolveOptions({ weightDecay: 0, ...options }, this.config.text.max_len);
    if (this.options.weightDecay !== 0)
      throw new InvalidFineTuneOptionsError('textual inversion has no weight decay (0)');
    const start = init ?? initialWordVector(base.weights, tokenizer);
    const weights = weightsWithWord(base.weights, this.id, start);
    this.rows = this.config.text.vocab_size;
    this.width = this.config.text.width;
    const limit = Math.min(e.device.limits.maxStorageBufferBindingSize, e.device.limits.maxBufferSize);
    this.microBatch = Math.min(
      largestMicroBatch(this.config, { rank: 1, alpha: 1, targets: ['text'] }, this.options.batchSize, limit),
      this.options.maxMicroBatch ?? Infinity,
    );
    if (this.microBatch < 1)
      throw new InvalidFineTuneOptionsError(`one image's step exceeds this device's ${limit}-byte binding limit`);
    this.model = new MMambaAutodiff(e, this.config, weights);
    const table3 = view(this.model.baseWeight(TEXT_TABLE), [1, this.rows, this.width]);
    this.before = sliceRows(e, table3, 0, this.id);
    this.after = this.id + 1 < this.rows ? sliceRows(e, table3, this.id + 1, this.rows - this.id - 1) : null;
    const zeros = () => e.fromArray([1, this.width], new Float32Array(this.width), 'f32', 'adam');
    this.row = { param: e.fromArray([1, this.width], start, 'f32', 'word_row'), m: zeros(), v: zeros() };
  }

  get stepsDone(): number {
    return this.applied;
  }

  /** The whole table with the current row (a new tensor, (rows, w)). */
  private table(): Tensor {
    const e = this.e;
    const withRow = concatRows(e, this.before, view(this.row.param, [1, 1, this.width]));
    if (!this.after) return reshapeOwned(e, withRow, [this.rows, this.width]);
    const all = concatRows(e, withRow, this.after);
    withRow.dispose();
    return reshapeOwned(e, all, [this.rows, this.width]);
  }

  private checkBatch(batch: TrainingBatch): void {
    const c = this.config;
    const B = this.options.batchSize;
    const HW = c.grid * c.grid;
    if (batch.tokens?.length !== B * HW)
      throw new InvalidBatchError(`a batch needs batchSize × HW = ${B} × ${HW} tokens, got ${batch.tokens?.length}`);
    if (batch.textIds?.length !== B * c.text.max_len)
      throw new InvalidBatchError(`a batch needs ${B} × ${c.text.max_len} text ids, got ${batch.textIds?.length}`);
    for (const t of batch.tokens)
      if (!(t >= 0 && t < c.codebook_size))
        throw new InvalidBatchError(`image token ${t} is outside the codebook [0, ${c.codebook_size})`);
    for (const t of batch.textIds)
      if (!(t >= 0 && t < c.text.vocab_size))
        throw new InvalidBatchError(`text id ${t} is outside the vocabulary [0, ${c.text.vocab_size})`);
  }

  async step(batch: TrainingBatch): Promise<StepResult> {
    if (this.disposed) throw new InvalidFineTuneOptionsError('this WordInversion was disposed');
    this.checkBatch(batch);
    const e = this.e;
    const o = this.options;
    const c = this.config;
    const B = o.batchSize;
    const HW = c.grid * c.grid;
    const Lt = c.text.max_len;
    const stepIndex = this.attempts++;
    const lr = learningRateAt(o, stepIndex);
    const text = dropText(batch.textIds, B, o.emptyTextIds, o.textDropout, o.seed, stepIndex);
    const m = maskForTraining(batch.tokens, B, HW, c.codebook_size, o.seed, stepIndex);
    const table = this.table();
    const overrides = new Map([[TEXT_TABLE, table]]);
    const want = new Set([TEXT_TABLE]);
    const losses: Array<{ t: Tensor; share: number }> = [];
    let dTable: Tensor | null = null;
    try {
      for (const { mb, share } of microBatches(batch.tokens, text, m, this.microBatch, Lt, HW)) {
        const res = this.model.forwardBackward(mb, want, overrides, share);
        losses.push({ t: res.loss, share });
        const g = res.grads.get(TEXT_TABLE)!;
        if (dTable) {
          const acc: Tensor = add(e, dTable, g);
          dTable.dispose();
          g.dispose();
          dTable = acc;
        } else dTable = g;
      }
    } finally {
      table.dispose();
    }
    const grad = reshapeOwned(e, sliceRows(e, view(dTable!, [1, this.rows, this.width]), this.id, 1), [1, this.width]);
    dTable!.dispose();
    const partials = e.empty([1], 'f32', 'word_partials');
    const stats = e.empty([2], 'f32', 'word_stats'); // [Σ grad², Σ updated row²]
    sumOfSquares(e, grad, partials, 0);
    sumSlots(e, partials, 1, stats, 0);
    const hyper = { lr, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: 0, step: this.applied + 1 };
    const clip = o.gradClip > 0 && Number.isFinite(o.gradClip) ? { stats, slot: 0, maxNorm: o.gradClip } : null;
    const next = adamwStep(e, this.row, grad, hyper, clip);
    grad.dispose();
    sumOfSquares(e, next.param, partials, 0);
    sumSlots(e, partials, 1, stats, 1);
    let loss = 0;
    let maskedTokens = 0;
    for (const { t, share } of losses) {
      const v = await e.readF32(t);
      loss += share * v[0]!;
      maskedTokens += v[1]!;
      t.dispose();
    }
    const st = await e.readF32(stats);
    partials.dispose();
    stats.dispose();
    const gradNorm = Math.sqrt(st[0]!);
    const nonFinite = !Number.isFinite(loss)
      ? 'loss'
      : !Number.isFinite(gradNorm)
        ? 'gradNorm'
        : !Number.isFinite(st[1]!)
          ? 'update'
          : null;
    const drop = (s: AdamWState) => (s.param.dispose(), s.m.dispose(), s.v.dispose());
    if (nonFinite) drop(next);
    else {
      drop(this.row);
      this.row = next;
      this.applied++;
    }
    return { step: stepIndex + 1, loss, gradNorm, lr, applied: !nonFinite, nonFinite, maskedTokens };
  }

  /** Logits (B, HW, K) of `batch` with the current row, the training mask of RNG step `maskStep` (default 0) and no
   *  text dropout (for checks). */
  async logits(batch: TrainingBatch, maskStep = 0): Promise<Float32Array> {
    this.checkBatch(batch);
    const c = this.config;
    const B = this.options.batchSize;
    const HW = c.grid * c.grid;
    const m = maskForTraining(batch.tokens, B, HW, c.codebook_size, this.options.seed, maskStep);
    const table = this.table();
    try {
      const r = this.model.evaluate(
        {
          batch: B,
          textIds: batch.textIds,
          imgTokens: m.imgTokens,
          targets: Uint32Array.from(batch.tokens),
          mask: m.mask,
        },
        new Map([[TEXT_TABLE, table]]),
      );
      const out = (await this.e.readF32(r.logits)).slice();
      r.loss.dispose();
      r.logits.dispose();
      return out;
    } finally {
      table.dispose();
    }
  }

  /** The learned row (CPU copy). */
  async embedding(): Promise<Float32Array> {
    return (await this.e.readF32(this.row.param)).slice();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of [this.row.param, this.row.m, this.row.v, this.before, this.after]) t?.dispose();
    this.model.dispose();
  }
}
