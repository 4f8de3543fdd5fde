// FineTuner: LoRA fine-tuning of M-Mamba on the GPU, one optimizer step per batch of (VQ tokens, caption ids).
// A step (docs/architecture.md "Training objective", training/train_gen.py):
//   1. text dropout and the cosine training mask (masking.ts, shared counter RNG, seeded, replayable)
//   2. W_eff = W + (alpha/rank)·B·A for every adapted weight (matmul on the GPU; the base stays frozen)
//   3. forward with layer checkpoints, masked cross-entropy, backward (mmamba_autodiff.ts) → dL/dW_eff,
//      split into micro-batches when the batch would exceed WebGPU's default binding limit (memory.ts); the
//      micro-batch gradients are weighted by their share of masked tokens, so the result equals the full batch's
//   4. dA = s·Bᵀ·dW, dB = s·dW·Aᵀ (s = alpha/rank); global L2 norm of all (dA, dB) (fixed-order GPU reduction)
//   5. AdamW (betas 0.9/0.95, decoupled weight decay on every factor) with global-norm clipping, learning rate
//      = linear warmup to lr over warmupSteps, then cosine to minLrRatio·lr at totalSteps (or constant)
//   6. NaN guard: the update writes new tensors; they replace the old ones only if the loss, the gradient norm and
//      the updated factors are all finite. Otherwise the step is reported (applied: false) and nothing changes.
// One readback per step (loss + norms). The text encoder's attention trunk is frozen (no attention backward).
import type { Engine } from '../engine/engine';
import { adamwStep, sumOfSquares, sumSlots, type AdamWState } from '../engine/ops/adamw';
import { add } from '../engine/ops/elementwise';
import type { Tensor } from '../engine/tensor';
import type {
  BaseModelRef,
  FineTuneOptions,
  FineTunerHandle,
  LoraAdapter,
  LoraConfig,
  StepResult,
  TrainingBatch,
  WeightMap,
} from './api';
import { DEFAULT_FINETUNE_OPTIONS } from './defaults';
import { FineTuneMemoryError, InvalidBatchError, InvalidFineTuneOptionsError } from './errors';
import { checkLoraConfig, configHash, factorShapes, initAdapter, loraParamNames, loraScale } from './lora';
import { defaultEmptyTextIds, dropText, maskForTraining, microBatches } from './masking';
import { effectiveWeights, factorGradients, type FactorTensors } from './lora_grad';
import { largestMicroBatch } from './memory';
import { MMambaAutodiff } from './mmamba_autodiff';

export type Resolved = Required<Omit<FineTuneOptions, 'emptyTextIds' | 'maxMicroBatch'>> & {
  emptyTextIds: Int32Array;
  maxMicroBatch?: number;
};

/** Learning rate of 0-based step `step`: linear warmup, then cosine to minLrRatio·lr (runutil.py CosineSchedule). */
export function learningRateAt(
  o: Pick<FineTuneOptions, 'lr' | 'warmupSteps' | 'totalSteps' | 'schedule' | 'minLrRatio'>,
  step: number,
): number {
  const warm = Math.max(0, Math.floor(o.warmupSteps));
  if (step < warm) return (o.lr * (step + 1)) / warm;
  if ((o.schedule ?? 'cosine') === 'constant') return o.lr;
  const min = o.minLrRatio ?? 0.1;
  const p = Math.min(1, (step - warm) / Math.max(1, o.totalSteps - warm));
  return o.lr * (min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * p)));
}

export function resolveOptions(o: Partial<FineTuneOptions>, Lt: number): Resolved {
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)); // undefined = use the default
  const r = { ...DEFAULT_FINETUNE_OPTIONS, ...given } as Resolved;
  r.emptyTextIds = o.emptyTextIds ?? defaultEmptyTextIds(Lt);
  const bad = (what: string) => {
    throw new InvalidFineTuneOptionsError(`fine-tuning option ${what}`);
  };
  if (!Number.isInteger(r.batchSize) || r.batchSize < 4) bad(`batchSize must be an integer ≥ 4, got ${r.batchSize}`);
  if (!(r.lr >= 0)) bad(`lr must be ≥ 0, got ${r.lr}`); // Infinity is allowed: the NaN guard refuses its update
  if (!(r.weightDecay >= 0)) bad(`weightDecay must be ≥ 0, got ${r.weightDecay}`);
  if (!Number.isInteger(r.warmupSteps) || r.warmupSteps < 0)
    bad(`warmupSteps must be an integer ≥ 0, got ${r.warmupSteps}`);
  if (!Number.isInteger(r.totalSteps) || r.totalSteps < 1)
    bad(`totalSteps must be an integer ≥ 1, got ${r.totalSteps}`);
  if (!(r.gradClip >= 0)) bad(`gradClip must be ≥ 0 (0 or Infinity: off), got ${r.gradClip}`);
  if (!Number.isInteger(r.seed) || r.seed < 0 || r.seed > 0xffffffff) bad(`seed must be a u32 integer, got ${r.seed}`);
  if (!(r.textDropout >= 0 && r.textDropout <= 1)) bad(`textDropout must be in [0, 1], got ${r.textDropout}`);
  const [b1, b2] = r.betas;
  if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1 && r.eps > 0)) bad(`betas must be in [0, 1) and eps > 0`);
  if (r.emptyTextIds.length !== Lt) bad(`emptyTextIds must hold text.max_len = ${Lt} ids`);
  if (r.maxMicroBatch !== undefined && !(Number.isInteger(r.maxMicroBatch) && r.maxMicroBatch >= 1))
    bad(`maxMicroBatch must be an integer ≥ 1, got ${r.maxMicroBatch}`);
  return r;
}

interface Factor {
  name: string; //  base parameter
  shapes: ReturnType<typeof factorShapes>;
  A: AdamWState;
  B: AdamWState;
}

export class FineTuner implements FineTunerHandle {
  readonly options: Readonly<Resolved>;
  readonly lora: LoraConfig;
  /** Rows per forward/backward (≤ batchSize; smaller when the batch would exceed the default binding limit). */
  readonly microBatch: number;
  private readonly model: MMambaAutodiff;
  private readonly factors: Factor[];
  private readonly scale: number;
  private attempts = 0;
  private applied = 0;
  /** Updates applied by this trainer: AdamW's t (its moments start at 0 here, also when resuming an adapter). */
  private adamSteps = 0;
  private disposed = false;

  constructor(
    private readonly e: Engine,
    private readonly base: { ref: BaseModelRef; weights: WeightMap },
    lora: LoraConfig,
    options: Partial<FineTuneOptions> = {},
    init?: LoraAdapter,
  ) {
    const cfg = base.ref.config;
    checkLoraConfig(cfg, lora);
    this.lora = { rank: lora.rank, alpha: lora.alpha, targets: [...lora.targets] };
    this.options = resolveOptions(options, cfg.text.max_len);
    this.scale = loraScale(lora);
    const limit = Math.min(e.device.limits.maxStorageBufferBindingSize, e.device.limits.maxBufferSize);
    this.microBatch = Math.min(
      largestMicroBatch(cfg, lora, this.options.batchSize, limit),
      this.options.maxMicroBatch ?? Infinity,
    );
    if (this.microBatch < 1)
      throw new FineTuneMemoryError(`one image's fine-tuning step exceeds this device's ${limit}-byte binding limit`);
    const start = init ?? initAdapter(base.ref, lora, this.options.seed);
    if (init) this.checkInit(init);
    this.model = new MMambaAutodiff(e, cfg, base.weights);
    this.factors = loraParamNames(cfg, lora.targets).map((name) => {
      const shapes = factorShapes(cfg, name, lora.rank);
      const pair = start.pairs.get(name)!;
      const state = (shape: number[], data: Float32Array): AdamWState => ({
        param: e.fromArray(shape, data, 'f32', `lora.${name}`),
        m: e.fromArray(shape, new Float32Array(data.length), 'f32', 'adam_m'),
        v: e.fromArray(shape, new Float32Array(data.length), 'f32', 'adam_v'),
      });
      return { name, shapes, A: state(shapes.A, pair.A.data), B: state(shapes.B, pair.B.data) };
    });
    this.applied = init?.info.steps ?? 0;
  }

  private checkInit(a: LoraAdapter): void {
    const same =
      a.config.rank === this.lora.rank &&
      a.config.alpha === this.lora.alpha &&
      a.config.targets.join() === this.lora.targets.join();
    if (!same)
      throw new InvalidFineTuneOptionsError(
        'the initial adapter was trained with another LoRA config (rank, alpha, targets); use its config',
      );
    if (a.info.baseConfigHash !== configHash(this.base.ref.config))
      throw new InvalidFineTuneOptionsError('the initial adapter belongs to another base model');
  }

  get stepsDone(): number {
    return this.applied;
  }

  private checkBatch(batch: TrainingBatch): void {
    const c = this.base.ref.config;
    const B = this.options.batchSize;
    const HW = c.grid * c.grid;
    const Lt = c.text.max_len;
    if (batch.tokens?.length !== B * HW)
      throw new InvalidBatchError(`a batch needs batchSize × HW = ${B} × ${HW} tokens, got ${batch.tokens?.length}`);
    if (batch.textIds?.length !== B * Lt)
      throw new InvalidBatchError(
        `a batch needs batchSize × text.max_len = ${B} × ${Lt} text ids, got ${batch.textIds?.length}`,
      );
    for (const t of batch.tokens)
      if (!(t >= 0 && t < c.codebook_size))
        throw new InvalidBatchError(`image token ${t} is outside the codebook [0, ${c.codebook_size})`);
    for (const t of batch.textIds)
      if (!(t >= 0 && t < c.text.vocab_size))
        throw new InvalidBatchError(`text id ${t} is outside the vocabulary [0, ${c.text.vocab_size})`);
  }

  /** W + s·B·A for every adapted weight (new tensors, freed by the caller). */
  private effectiveWeights(): Map<string, Tensor> {
    return effectiveWeights(this.e, (n) => this.model.baseWeight(n), this.tensors(), this.scale);
  }

  private tensors(): FactorTensors[] {
    return this.factors.map((f) => ({ name: f.name, A: f.A.param, B: f.B.param }));
  }

  async step(batch: TrainingBatch): Promise<StepResult> {
    if (this.disposed) throw new InvalidFineTuneOptionsError('this FineTuner was disposed');
    this.checkBatch(batch);
    const e = this.e;
    const o = this.options;
    const c = this.base.ref.config;
    const B = o.batchSize;
    const HW = c.grid * c.grid;
    const Lt = c.text.max_len;
    const stepIndex = this.attempts++;
    const lr = learningRateAt(o, stepIndex);
    const text = dropText(batch.textIds, B, o.emptyTextIds, o.textDropout, o.seed, stepIndex);
    const m = maskForTraining(batch.tokens, B, HW, c.codebook_size, o.seed, stepIndex);

    const want = new Set(this.factors.map((f) => f.name));
    const overrides = this.effectiveWeights();
    const lossTensors: Array<{ t: Tensor; share: number }> = [];
    let dW = new Map<string, Tensor>();
    try {
      for (const { mb, share } of microBatches(batch.tokens, text, m, this.microBatch, Lt, HW)) {
        const res = this.model.forwardBackward(mb, want, overrides, share);
        lossTensors.push({ t: res.loss, share });
        if (dW.size === 0) dW = res.grads;
        else
          for (const [k, g] of res.grads) {
            const acc = add(e, dW.get(k)!, g);
            dW.get(k)!.dispose();
            g.dispose();
            dW.set(k, acc);
          }
      }
    } finally {
      for (const t of overrides.values()) t.dispose();
    }

    // LoRA gradients, their global norm, the AdamW update into new tensors, and the updated factors' norm
    const nT = this.factors.length * 2;
    const partials = e.empty([nT], 'f32', 'lora_partials');
    const stats = e.empty([2], 'f32', 'lora_stats'); // [Σ grad², Σ updated param²]
    const grads: Tensor[] = [];
    factorGradients(e, dW, this.tensors(), this.scale).forEach(({ dA, dB }, j) => {
      sumOfSquares(e, dA, partials, 2 * j);
      sumOfSquares(e, dB, partials, 2 * j + 1);
      grads.push(dA, dB);
    });
    sumSlots(e, partials, nT, stats, 0);
    const hyper = {
      lr,
      beta1: o.betas[0],
      beta2: o.betas[1],
      eps: o.eps,
      weightDecay: o.weightDecay,
      step: this.adamSteps + 1,
    };
    const clip = o.gradClip > 0 && Number.isFinite(o.gradClip) ? { stats, slot: 0, maxNorm: o.gradClip } : null;
    const next = this.factors.map((f, j) => ({
      A: adamwStep(e, f.A, grads[2 * j]!, hyper, clip),
      B: adamwStep(e, f.B, grads[2 * j + 1]!, hyper, clip),
    }));
    next.forEach((n, j) => {
      sumOfSquares(e, n.A.param, partials, 2 * j);
      sumOfSquares(e, n.B.param, partials, 2 * j + 1);
    });
    sumSlots(e, partials, nT, stats, 1);
    for (const g of grads) g.dispose();

    let loss = 0;
    let maskedTokens = 0;
    for (const { t, share } of lossTensors) {
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
    const disposeState = (s: AdamWState) => {
      s.param.dispose();
      s.m.dispose();
      s.v.dispose();
    };
    if (nonFinite) for (const n of next) disposeState(n.A), disposeState(n.B);
    else {
      this.factors.forEach((f, j) => {
        disposeState(f.A);
        disposeState(f.B);
        f.A = next[j]!.A;
        f.B = next[j]!.B;
      });
      this.applied++;
      this.adamSteps++;
    }
    return { step: stepIndex + 1, loss, gradNorm, lr, applied: !nonFinite, nonFinite, maskedTokens };
  }

  /** Loss (and optionally logits (B, HW, K)) of the current adapter on `batch`, with the training mask of RNG step
   *  `maskStep` (default 0) and no text dropout; nothing is updated. For validation curves and checks. */
  async evaluate(
    batch: TrainingBatch,
    opts: { maskStep?: number; withLogits?: boolean } = {},
  ): Promise<{ loss: number; maskedTokens: number; logits?: Float32Array }> {
    if (this.disposed) throw new InvalidFineTuneOptionsError('this FineTuner was disposed');
    this.checkBatch(batch);
    const c = this.base.ref.config;
    const B = this.options.batchSize;
    const HW = c.grid * c.grid;
    const m = maskForTraining(batch.tokens, B, HW, c.codebook_size, this.options.seed, opts.maskStep ?? 0);
    const overrides = this.effectiveWeights();
    let logits: Float32Array | undefined;
    let loss = 0;
    let maskedTokens = 0;
    try {
      const total = m.counts.reduce((a, b) => a + b, 0);
      const parts: Float32Array[] = [];
      for (const { mb } of microBatches(batch.tokens, batch.textIds, m, this.microBatch, c.text.max_len, HW)) {
        const r = this.model.evaluate(mb, overrides);
        const l = await this.e.readF32(r.loss);
        loss += (l[0]! * l[1]!) / total;
        maskedTokens += l[1]!;
        if (opts.withLogits) parts.push((await this.e.readF32(r.logits)).slice());
        r.loss.dispose();
        r.logits.dispose();
      }
      if (opts.withLogits) {
        logits = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
        let at = 0;
        for (const p of parts) logits.set(p, at), (at += p.length);
      }
    } finally {
      for (const t of overrides.values()) t.dispose();
    }
    return { loss, maskedTokens, logits };
  }

  async getAdapter(info: { word?: string; captions?: string[] } = {}): Promise<LoraAdapter> {
    const pairs: LoraAdapter['pairs'] = new Map();
    for (const f of this.factors) {
      const A = (await this.e.readF32(f.A.param)).slice();
      const B = (await this.e.readF32(f.B.param)).slice();
      pairs.set(f.name, { A: { shape: [...f.shapes.A], data: A }, B: { shape: [...f.shapes.B], data: B } });
    }
    const ref = this.base.ref;
    return {
      config: { ...this.lora, targets: [...this.lora.targets] },
      info: {
        baseModelId: ref.modelId,
        baseConfigHash: configHash(ref.config),
        baseManifestSha256: ref.manifestSha256,
        steps: this.applied,
        word: info.word,
        captions: info.captions,
        createdAt: new Date().toISOString(),
      },
      pairs,
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const f of this.factors) for (const s of [f.A, f.B]) s.param.dispose(), s.m.dispose(), s.v.dispose();
    this.model.dispose();
  }
}
