// The public contract of in-browser LoRA fine-tuning of M-Mamba (GitHub issue #5): types and function signatures
// that the worker, the UI and the Node tests program against. DOM-free. Implementations live next to this file:
//   lora.ts            LoRA config, target → parameter resolution, seeded init, mergeAdapter (CPU)
//   adapter_format.ts  the standalone `.safetensors` adapter file: serializeAdapter / parseAdapter (validating)
//   trainer.ts         FineTuner: masked-token training of the LoRA factors on the GPU (AdamW, clipping, NaN guard)
//   errors.ts          typed errors
// The LoRA update is W_eff = W + (alpha / rank) · B · A (Hu et al. 2021, "LoRA"), A ~ small seeded random, B = 0,
// so a fresh adapter leaves the model unchanged. Generation runs a merged WeightMap (mergeAdapter) through the
// unchanged generator, so an adapter costs nothing at sampling time.
import type { MMambaConfig } from '../model/common';
import type { HostTensor, WeightMap } from '../model/weights';

export type { HostTensor, WeightMap } from '../model/weights';
export type { MMambaConfig } from '../model/common';

/** Which weights get a LoRA pair. Per layer i of M-Mamba:
 *  'in_proj'  layers.i.in_proj.weight (2di, d)
 *  'out_proj' layers.i.out_proj.weight (d, di)
 *  'x_proj'   layers.i.x_proj_weight (K, R + 2N, di)   one pair per direction (A (K, r, di), B (K, R + 2N, r))
 *  'dt_proj'  layers.i.dt_proj_weight (K, di, R)       one pair per direction
 *  'mod'      layers.i.mod.proj.weight (3d, cond_dim)   the adaLN modulation
 *  'head'     head.weight (codebook_size, d)
 *  'text'     text.proj.weight (d, w) and text.pool_proj.weight (cond_dim, w): the text encoder's two output
 *             projections
 *  'text_layers'  per text block j: text.layers.j.attn.qkv.weight (3w, w), attn.out.weight (w, w), mlp.0.weight
 *             (f·w, w) and mlp.2.weight (w, f·w): the text encoder's attention and MLP, so that a new word can
 *             change how the whole prompt is read (backward through src/finetune/text_autodiff.ts). */
export type LoraTarget = 'in_proj' | 'out_proj' | 'x_proj' | 'dt_proj' | 'mod' | 'head' | 'text' | 'text_layers';
export const LORA_TARGETS: readonly LoraTarget[] = [
  'in_proj',
  'out_proj',
  'x_proj',
  'dt_proj',
  'mod',
  'head',
  'text',
  'text_layers',
];

export interface LoraConfig {
  /** r ≥ 1 (≤ min(in, out) of every adapted weight). */
  rank: number;
  /** The update is scaled by alpha / rank. */
  alpha: number;
  targets: LoraTarget[];
}

// The defaults (DEFAULT_LORA_CONFIG, DEFAULT_FINETUNE_OPTIONS, …) live in defaults.ts, shared with the page and the
// benchmark; the library's index re-exports them (defaults.ts reads this file's types, so this file does not import
// it).

/** One adapted weight W (out, in) or K-stacked W (K, out, in): A (r, in) / (K, r, in), B (out, r) / (K, out, r). */
export interface LoraPair {
  A: HostTensor;
  B: HostTensor;
}

/** Identifies the base model an adapter belongs to. `configHash` is configHash(config) (lora.ts); the manifest sha256
 *  (of the base manifest.json bytes, computed by the caller, e.g. with crypto.subtle) is checked when both sides have
 * it. */
export interface BaseModelRef {
  modelId: string;
  config: MMambaConfig;
  manifestSha256?: string;
}

/** What the adapter file's `__metadata__` records besides the tensors (all strings on disk, JSON-encoded). */
export interface AdapterInfo {
  baseModelId: string;
  baseConfigHash: string;
  baseManifestSha256?: string;
  /** Optimizer steps the factors have been trained for. */
  steps: number;
  /** The new word / concept the adapter teaches, if any (e.g. "sks cat"). */
  word?: string;
  /** The captions it was trained on (for display; the file never holds images). */
  captions?: string[];
  /** ISO 8601 time of the snapshot. */
  createdAt?: string;
}

export interface LoraAdapter {
  config: LoraConfig;
  info: AdapterInfo;
  /** Base parameter name (e.g. 'layers.0.in_proj.weight') → its factors. */
  pairs: Map<string, LoraPair>;
  /** Textual inversion: the text embedding row (text width) of the new word `info.word`, which then is a word of its
   *  own (word.ts: its id, tokenizer and table); absent for a LoRA-only adapter. */
  wordEmbedding?: Float32Array;
}

/** The on-disk identifier and version written into `__metadata__.format` / `formatVersion`. */
export const ADAPTER_FORMAT = 'mmamba-lora';
export const ADAPTER_FORMAT_VERSION = 2;
/** Versions parseAdapter reads: 1 (LoRA factors only) and 2 (may add the new word's embedding row). */
export const ADAPTER_FORMAT_VERSIONS_READ: readonly number[] = [1, 2];
/** Largest adapter file read (M-Mamba S with every target at rank 64 is 15.7 MiB): the page checks File.size against
 *  it before reading, parseAdapter again before parsing. */
export const MAX_ADAPTER_FILE_BYTES = 64 * 1024 * 1024;

// ---- fine-tuning ------------------------------------------------------------------------------------------

export interface FineTuneOptions {
  /** Images per optimizer step, ≥ 4 (every step's batch must hold exactly this many). */
  batchSize: number;
  /** Peak learning rate (after warmup). */
  lr: number;
  /** AdamW decoupled weight decay, applied to every LoRA factor. */
  weightDecay: number;
  /** Linear warmup from lr/warmupSteps to lr over this many steps. */
  warmupSteps: number;
  /** The schedule's length: cosine decay from lr to minLrRatio·lr between warmupSteps and totalSteps. */
  totalSteps: number;
  /** Global L2 norm the gradient is clipped to (0 or Infinity: no clipping). */
  gradClip: number;
  /** Seeds the LoRA init, the training masks and the text dropout (shared counter RNG, docs/architecture.md). */
  seed: number;
  /** 'cosine' (default, as training/mmamba/runutil.py CosineSchedule) or 'constant' after warmup. */
  schedule?: 'cosine' | 'constant';
  /** Floor of the cosine schedule as a fraction of lr (default 0.1, as the Python trainer). */
  minLrRatio?: number;
  /** AdamW betas (default [0.9, 0.95], as the Python trainer) and eps (default 1e-8). */
  betas?: [number, number];
  eps?: number;
  /** Probability that a row's caption is replaced by the empty prompt (default 0.1, sampling.py drop_text). */
  textDropout?: number;
  /** The empty prompt's ids (Lt), as the tokenizer encodes '' (default [bos=1, eos=2, pad=0, …]). */
  emptyTextIds?: Int32Array;
  /** Cap on the rows of one forward/backward (default: the largest that fits the device's binding limit). Lower it
   *  to cut peak memory on small GPUs; the gradient is the same (micro-batches are weighted by masked tokens). */
  maxMicroBatch?: number;
}

export interface TrainingBatch {
  /** (batchSize × HW) VQ codes in [0, codebook_size), row-major grids (e.g. from VQEncoder.encode). */
  tokens: Int32Array;
  /** (batchSize × Lt) caption ids, padded to text.max_len (BPETokenizer.encode). */
  textIds: Int32Array;
}

export interface StepResult {
  /** 1-based index of this step (counts skipped steps too). */
  step: number;
  /** Mean cross-entropy over the masked positions (before the update). */
  loss: number;
  /** Global L2 norm of the LoRA gradient before clipping. */
  gradNorm: number;
  /** Learning rate used (or that would have been used) at this step. */
  lr: number;
  /** False when the NaN/Inf guard refused the update: the adapter is unchanged; the caller should stop. */
  applied: boolean;
  /** Why the update was refused: a non-finite loss, gradient norm, or updated factors (e.g. lr = Infinity). */
  nonFinite: null | 'loss' | 'gradNorm' | 'update';
  /** Masked positions the loss averaged over. */
  maskedTokens: number;
}

/** Device bytes a fine-tuning step needs and whether it fits WebGPU's default limits. */
export interface MemoryPlan {
  /** Largest single buffer the step binds (the selective-scan backward workspace, usually). */
  largestBindingBytes: number;
  /** Rough peak of live bytes (base weights + checkpoints + one layer's recompute + backward). */
  estimatedPeakBytes: number;
  fitsDefaultLimits: boolean;
}

/** Default WebGPU limits the trainer stays inside (maxStorageBufferBindingSize, maxBufferSize). */
export const DEFAULT_MAX_BINDING_BYTES = 128 * 1024 * 1024;
export const DEFAULT_MAX_BUFFER_BYTES = 256 * 1024 * 1024;

/** Signatures implemented by lora.ts / adapter_format.ts / trainer.ts (re-exported from index.ts). */
export interface FineTuneLibrary {
  /** Base parameter names a LoRA config adapts, in a fixed order (layers ascending, then head, then text). */
  loraParamNames(config: MMambaConfig, targets: readonly LoraTarget[]): string[];
  /** A fresh adapter: A ~ U(−1/√in, 1/√in) from the shared counter RNG (PEFT's Kaiming-uniform bound), B = 0. */
  initAdapter(base: BaseModelRef, lora: LoraConfig, seed: number): LoraAdapter;
  /** A new WeightMap with W + strength·(alpha/rank)·B·A for every adapted weight (others shared, not copied);
   *  strength defaults to 1 (the adapter as trained); 0 gives the base weights' values. */
  mergeAdapter(base: WeightMap, adapter: LoraAdapter, strength?: number): WeightMap;
  /** Stable hash of a model config (canonical JSON, FNV-1a 64, hex). Not cryptographic: an identity check. */
  configHash(config: MMambaConfig): string;
  serializeAdapter(adapter: LoraAdapter): ArrayBuffer;
  /** Validates everything and throws AdapterFormatError / AdapterMismatchError (errors.ts). */
  parseAdapter(file: ArrayBuffer, base: BaseModelRef): LoraAdapter;
  planMemory(config: MMambaConfig, lora: LoraConfig, batchSize: number): MemoryPlan;
}

/** The trainer (trainer.ts `FineTuner implements FineTunerHandle`), constructed as
 *  `new FineTuner(engine, base: {ref: BaseModelRef; weights: WeightMap}, lora: LoraConfig,
 *                 options: Partial<FineTuneOptions>, init?: LoraAdapter)`
 *  (throws InvalidFineTuneOptionsError for bad options, FineTuneMemoryError when a step cannot fit the device). */
export interface FineTunerHandle {
  /** Optimizer steps applied so far, including those of an initial adapter (refused steps do not count). */
  readonly stepsDone: number;
  /** One optimizer step on one batch (B = options.batchSize rows). */
  step(batch: TrainingBatch): Promise<StepResult>;
  /** Loss of the current adapter on `batch` with the training mask of RNG step `maskStep` (default 0), no update. */
  evaluate(
    batch: TrainingBatch,
    opts?: { maskStep?: number; withLogits?: boolean },
  ): Promise<{ loss: number; maskedTokens: number; logits?: Float32Array }>;
  /** A CPU snapshot of the current factors (the last good ones after a refused step). */
  getAdapter(info?: { word?: string; captions?: string[] }): Promise<LoraAdapter>;
  /** Frees every GPU buffer the trainer owns (the engine stays usable). */
  dispose(): void;
}
