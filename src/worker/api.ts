// The engine's public interface (MMambaEngineInterface, at the end) and the values that cross it. Every value
// must survive structured clone, since the worker proxy sends it between threads: plain objects, typed arrays, no
// classes, no GPU handles. Step images cross as transferables, so the engine gives up each buffer it sends.
import type { DriftReport } from '../finetune/drift';
import type { SamplingDefaults } from '../model/settings';

export type { DriftReport } from '../finetune/drift';

/** What the adapter is, in the four strings WebGPU's GPUAdapterInfo gives (any may be empty). */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/** Answer of `init()`: the device the worker holds, or why there is none. */
export type GpuReport =
  | {
      status: 'ready';
      adapter: AdapterReport;
      /** One readable line naming the adapter (never empty). */
      adapterName: string;
      /** Features enabled on the device, sorted. */
      features: string[];
      /** Limits granted to the device (the ones the engine uses). */
      limits: Record<string, number>;
      hasF16: boolean;
      hasSubgroups: boolean;
      hasTimestamps: boolean;
    }
  | {
      /** No navigator.gpu, no adapter, or requestDevice refused: the page should say how to get WebGPU. */
      status: 'unavailable';
      message: string;
    }
  | {
      /** Anything else (a bug, or a device lost during start-up). */
      status: 'error';
      message: string;
    };

/** A model the worker can load (listed in `public/models/index.json`). */
export interface ModelInfo {
  id: string;
  kind: 'mmamba' | 'uvit' | 'vq';
  name: string;
  description: string;
  /** Total bytes of all shards (what a first load downloads). */
  bytes: number;
  /** Already stored in IndexedDB under the current format version: loading needs no download. */
  cached: boolean;
  /** A generator's recommended sampling settings, from index.json (empty: the page-wide defaults); the worker fills a
   *  request's missing settings from the loaded generator's (src/model/settings.ts samplingDefault). */
  sampling: SamplingDefaults;
}

export interface ModelList {
  /** Generators first (the UI's model picker), then the VQ tokenizer. */
  models: ModelInfo[];
  defaultGenerator: string;
  /** The VQ tokenizer every generator decodes with. */
  tokenizer: string;
}

/** Longest prompt (in characters) the worker passes on; longer prompts are cut and the answer says so. */
export const MAX_PROMPT_CHARS = 200;

export interface GenerateRequest {
  /** May be empty: an empty prompt is unconditional generation. */
  prompt: string;
  negativePrompt?: string;
  /** u32 seed; the same seed, prompt and settings give the same tokens. */
  seed: number;
  /** MaskGIT steps S. This and the settings below: range, default (when left out) and the message that refuses a
   *  bad value in GENERATION_SETTINGS (src/model/settings.ts); the worker checks them
   * (src/worker/generation/requests.ts). A left-out steps, guidance, tau or temperature is the loaded generator's
   * recommendation (ModelInfo.sampling), else the page-wide default. */
  steps?: number;
  /** Classifier-free guidance scale g. */
  guidance?: number;
  /** Choice temperature of the re-masking noise. */
  tau?: number;
  /** Sampling temperature. */
  temperature?: number;
  /** Name of a saved (or this session's) LoRA adapter of the loaded generator; absent: the base model. */
  adapter?: string;
  /** How strongly the adapter applies, ADAPTER_STRENGTH (src/finetune/defaults.ts): 0 (the base model) to 1.5;
   *  default 1, the adapter as trained. Ignored without `adapter`. */
  adapterStrength?: number;
  /** The word gate's opt-out (src/finetune/word_gate.ts): false (the default, ADAPTER_EVERY_PROMPT) applies the
   *  adapter only when the prompt or negative prompt contains its word (case and punctuation aside), so any other
   *  prompt is drawn by the base model exactly; true applies it to every prompt. Ignored without `adapter`. */
  adapterEveryPrompt?: boolean;
  /** Editing (inpainting): the picture to edit as its token grid, row-major (H*W, e.g. a `tokens` of an earlier
   *  result); with `keep`. Checked by editProblem (src/model/settings.ts); the grid must match the model's. */
  initTokens?: Uint32Array | number[];
  /** Editing: per token of `initTokens`, 1 = keep it fixed, 0 = generate it anew (over the steps, with the MaskGIT
   *  schedule over the masked tokens). At least one of each. Same seed, mask and prompt give the same tokens. */
  keep?: Uint8Array | number[];
  /** Variations: draw this many images (1–8, default 1) with seeds seed, seed+1, … in one batched forward per
   *  step; image i equals a single generation with seed + i. */
  variations?: number;
  /** Image-to-image (with `initTokens`, instead of `keep`): round(strength·H·W) of the picture's tokens are drawn
   *  anew (0 < that; strength 1 is a plain generation). Tokens that are not codebook ids are always re-drawn. */
  strength?: number;
  /** Which tokens `strength` re-draws: 'random' (chosen by the seed) or 'confidence' (those the model finds least
   *  likely given the prompt, one extra forward pass); default DEFAULT_REMASK (src/model/strength_mask.ts). */
  remask?: 'random' | 'confidence';
  /** Pacing of the step previews (src/model/pipeline.ts previewEveryMs): a step's preview is decoded only when this
   *  many ms have passed since the last decoded one; the first and final steps always are. 0 decodes every step;
   *  from 0 to PREVIEW_EVERY_MS_MAX (an hour: every step in between is paced away; src/worker/generation/requests.ts);
   *  default one 60 Hz frame (DEFAULT_PREVIEW_EVERY_MS). The page leaves it out; tests set it with
   *  `?preview-every-ms=<ms>` in the page URL (src/ui/app.ts). */
  previewEveryMs?: number;
}

/** An RGBA8 image, row-major, `rgba.length === width * height * 4`. */
export interface RgbaImage {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

/** One image of a request's variations. */
export interface VariationImage {
  seed: number;
  /** Final token grid, row-major (H*W). */
  tokens: Uint32Array;
  image: RgbaImage;
}

/** A picture turned into tokens by `encodeImage`, ready to edit (image-to-image: `initTokens` + a keep-mask). */
export interface EncodedImage {
  /** Token grid, row-major (H*W), of the loaded VQ tokenizer. */
  tokens: Uint32Array;
  /** The square crop that was encoded (the VQ's image size, e.g. 128×128). */
  image: RgbaImage;
}

export interface GenerateResult {
  /** Final token grid, row-major (H*W) (of the first variation when there are several). */
  tokens: Uint32Array;
  image: RgbaImage;
  /** With `variations` ≥ 2: every image, in seed order (the first is `tokens` / `image` again). */
  variations?: VariationImage[];
  /** Wall time of the whole generation in the worker. */
  ms: number;
  /** The prompt as used (after truncation). */
  prompt: string;
  truncated: boolean;
}

/**
 * Progress of a model load, in order. Bytes count over all shards of one model.
 * - download:      shard bytes arriving (network) or read back (`fromCache`, IndexedDB).
 * - verify:        a shard's size and sha256 checked.
 * - refetch:       a shard failed verification (cache or network) and is fetched again, once.
 * - cache-warning: the shards could not be stored (quota full); the model runs from memory this session.
 * - recover:       the GPU device had been lost; a new one was acquired and the model rebuilt.
 * - compile:       building the model on the GPU (upload, pipelines).
 * - ready:         loaded; nothing follows.
 */
export type LoadProgress =
  | {
      kind: 'download';
      modelId: string;
      file: string;
      loadedBytes: number;
      totalBytes: number;
      percent: number;
      fromCache: boolean;
    }
  | { kind: 'verify'; modelId: string; file: string; done: number; total: number }
  | { kind: 'refetch'; modelId: string; file: string; reason: string }
  | { kind: 'cache-warning'; modelId: string; message: string }
  | { kind: 'compile'; modelId: string }
  | { kind: 'recover'; message: string }
  | { kind: 'ready'; modelId: string; ms: number; fromCache: boolean; persisted: boolean };

/**
 * Progress of a generation, in order.
 * - encode: the prompt going through tokenizer + text encoder (`truncated` when it was cut).
 * - step:   one MaskGIT step done; `pixels` is that step's decode (RGBA width×height, 128x128), `masked` the 16x16
 *           mask; with variations, `count` images one after another in each (count·H·W tokens,
 *           count·width·height·4 bytes). Previews are paced to the display (GenerateRequest.previewEveryMs: the
 *           first step, then about one decode per 16.7 ms, and the last step): a step whose decode was skipped has
 *           no `pixels` (keep showing the last ones, under the new mask; `decodeTokens(tokens)` makes its own
 *           picture when it is asked for); the first and last steps always have them.
 * - decode: the last step's decode is the final image.
 * - recover: the GPU device had been lost; a new one was acquired and the model rebuilt first.
 * - done:   finished; nothing follows.
 */
export type GenerateProgress =
  | { kind: 'encode'; prompt: string; truncated: boolean }
  | {
      kind: 'step';
      step: number;
      steps: number;
      /** Images in this step: 1, or the request's variations. */
      count: number;
      tokens: Uint32Array;
      masked: Uint8Array;
      /** Absent on a step whose preview decode was skipped (paced to the display). */
      pixels?: Uint8ClampedArray;
      width: number;
      height: number;
      msStep: number;
    }
  | { kind: 'decode' }
  | { kind: 'recover'; message: string }
  | { kind: 'done'; ms: number };

export type LoadProgressCallback = (p: LoadProgress) => void;
export type GenerateProgressCallback = (p: GenerateProgress) => void | Promise<void>;

export interface CachedModelInfo {
  id: string;
  bytes: number;
  shards: number;
}

export interface StorageInfo {
  models: CachedModelInfo[];
  /** navigator.storage.estimate(); null where the browser does not say. */
  usage: number | null;
  quota: number | null;
}

// ---- fine-tuning (GitHub issue #5): "Teach a new word" ------------------------------------------------------

/** One image/caption pair sent to `prepareDataset`. `id` is the UI's handle for the file: the worker keeps what
 *  it decoded and encoded per id, so preparing again after a caption edit costs no decode or encode. */
export interface DatasetItemInput {
  id: string;
  /** File name as dropped (for messages only). */
  name: string;
  bytes: ArrayBuffer;
  caption: string;
}

/** The verdict on one pair: accepted with what the model will see (the square crop at model resolution),
 *  or rejected with a reason a person can act on. */
export type DatasetItemReport =
  | { id: string; name: string; status: 'accepted'; caption: string; image: RgbaImage }
  | { id: string; name: string; status: 'rejected'; reason: string };

export interface DatasetReport {
  items: DatasetItemReport[];
  accepted: number;
  rejected: number;
  /** Side of the square the images were cut to (the VQ tokenizer's resolution). */
  imageSize: number;
}

/** A fine-tuning run's settings; each number's range and the UI's starting value: FINETUNE_SETTINGS
 *  (src/worker/finetune/settings.ts), checked by checkRequest (src/worker/finetune/session.ts). */
export interface FineTuneRequest {
  /** LoRA rank r. */
  rank: number;
  /** Optimizer steps. */
  steps: number;
  /** Peak learning rate. */
  lr: number;
  /** Pairs per step (pairs repeat when there are fewer). */
  batchSize: number;
  /** Prompt of the preview images (default: the first caption). */
  previewPrompt?: string;
  /** A preview every K steps (0: only at the end). */
  previewEvery: number;
  /** MaskGIT steps of a preview. */
  previewSteps?: number;
  /** Guidance of a preview and of the drift guard's control renders (default: the loaded generator's recommended
   *  guidance, else the page-wide default); they use the generator's recommended tau and temperature too. */
  previewGuidance?: number;
  /** Seeds the LoRA init, the masks and the batches; and the previews. */
  seed: number;
  /** Which weights get LoRA pairs (default 'all'): see ADAPT_TARGETS in src/worker/finetune/session.ts. */
  adapt?: AdaptScope;
  /** A drift check (the adapter's renders of the first few control prompts against the base's) every K steps; 0:
   *  only the check after the run (always made). Default: FINETUNE_SETTINGS.driftEvery. */
  driftEvery?: number;
  /** How many control prompts the drift guard renders (default all 8; fewer only where rendering is slow). */
  driftControls?: number;
  /** Stop the run when a drift check exceeds the bounds, keeping the adapter of the last check within them
   *  (default false: the page only warns). */
  stopOnDrift?: boolean;
  /** Prior preservation: this share of each batch's rows (rounded; at most all but one) are the base model's renders
   *  of the drift guard's control prompts with their captions (default: FINETUNE_SETTINGS.priorFraction). */
  priorFraction?: number;
  /** Textual inversion: steps that learn only the new word's own embedding row before the LoRA steps (default:
   *  FINETUNE_SETTINGS.inversionSteps; 0: none). Needs `word`. */
  inversionSteps?: number;
  /** The made-up word the captions teach: 1–32 letters or digits, a hyphen may join parts, any case
   *  (src/finetune/word_gate.ts GATE_WORD). The adapter's word gate applies it to prompts with this word; when absent,
   *  the run uses the longest word every caption shares (word_gate.ts guessWord). Textual inversion needs it given,
   *  as letters a–z or digits only. */
  word?: string;
}

/** 'all': generator and text encoder; 'generator': the generator only (prompts are read as before);
 *  'text': the text encoder only (the new word is learnt as a meaning; the drawing weights stay as they are). */
export type AdaptScope = 'all' | 'generator' | 'text';

/**
 * Progress of a fine-tuning run, in order (`paused`/`resumed` and `preview` may come any number of times).
 * - start:    the run begins (settings checked, the base model's control renders taken); `totalSteps` counts the
 *             word's steps (textual inversion) and the LoRA steps.
 * - step:     one optimizer step; `stepsPerSec` over the recent steps (pauses and previews excluded) and `etaSec`
 *             (time left) from it; both null until a step after the first was timed (the first compiles the shaders).
 * - preview:  an image of the preview prompt with the adapter as it is now (pixels transferred).
 * - nan-stop: the loss or gradient went non-finite; the run stops, the adapter keeps its last good weights.
 * - error-stop: the GPU failed mid-run (e.g. the device was lost); the run stops, and the adapter as it was at the
 *             last snapshot (every preview, or every 25 steps without previews) can still be saved.
 * - controls: the base model's renders of the control prompts (before the first step; pixels transferred).
 * - drift:    a drift check: the adapter's renders of the first controls (all of them when `final`, after the run)
 *             and their drift from the base renders; `report.withinBounds` false means the adapter changes prompts
 *             it was not taught (the page warns).
 * - drift-stop: a check exceeded the bounds and the request asked to stop; the adapter kept is the one of the last
 *             check within the bounds (`savedStep`; 0 when none was: then the adapter as it is).
 * - done:     finished (or stopped); nothing follows.
 */
export type FineTuneProgress =
  | { kind: 'start'; totalSteps: number; pairs: number; batchSize: number }
  | {
      kind: 'step';
      step: number;
      totalSteps: number;
      /** 'word': a textual-inversion step (the word's own row); 'lora': a LoRA step. */
      phase: 'word' | 'lora';
      loss: number;
      gradNorm: number;
      lr: number;
      stepsPerSec: number | null;
      etaSec: number | null;
    }
  | { kind: 'preview'; step: number; prompt: string; image: RgbaImage }
  | { kind: 'paused'; step: number }
  | { kind: 'resumed'; step: number }
  | { kind: 'nan-stop'; step: number; message: string }
  | { kind: 'error-stop'; step: number; savedStep: number; message: string }
  | { kind: 'controls'; prompts: string[]; images: RgbaImage[] }
  | { kind: 'drift'; step: number; final: boolean; prompts: string[]; images: RgbaImage[]; report: DriftReport }
  | { kind: 'drift-stop'; step: number; savedStep: number; message: string }
  | { kind: 'done'; status: FineTuneStatus; steps: number; ms: number };

export type FineTuneStatus = 'done' | 'stopped' | 'cancelled';
export type FineTuneProgressCallback = (p: FineTuneProgress) => void | Promise<void>;

export interface FineTuneResult {
  /** done: all steps ran; stopped: a non-finite loss (the adapter is the last good one) or a GPU failure (the
   *  adapter is the last snapshot) stopped it; cancelled: discarded, nothing to save. */
  status: FineTuneStatus;
  steps: number;
  /** Loss of every step, in order. */
  losses: number[];
  ms: number;
  /** True when an adapter can now be saved with `saveAdapter`. */
  canSave: boolean;
}

/** A LoRA adapter of the loaded generator. */
export interface AdapterInfoRow {
  name: string;
  baseModelId: string;
  rank: number;
  steps: number;
  savedAt: number;
  byteLength: number;
  /** False when it lives in memory only (storage was full): it is gone when the page closes. */
  persisted: boolean;
  /** The word that gates it (src/finetune/word_gate.ts): it applies to prompts with this word; '' when the adapter
   *  names none (it applies to every prompt). */
  word: string;
}

export interface SaveAdapterResult {
  adapter: AdapterInfoRow;
  /** Set when storage was full: the adapter stays usable in memory this session. */
  warning?: string;
}

/** Options of `generate`. */
export interface GenerateOptions {
  /** Called for each stage and each step, in order; the engine waits for a returned promise before going on. */
  onProgress?: GenerateProgressCallback;
  /** Aborting it cancels this generation: the call rejects with GenerationCancelledError. */
  signal?: AbortSignal;
}

/**
 * The engine: one interface, implemented in this thread by `MMambaEngine` (src/worker/engine.ts) and from the page
 * by the worker proxy `WebWorkerMMambaEngine` (src/worker/client.ts), which runs an `MMambaEngine` in a worker.
 * Calls reject with the engine's named error classes (src/worker/errors.ts), the same class on either side of the
 * thread: e.g. a cancelled generation with GenerationCancelledError, a malformed request with
 * InvalidGenerateRequestError, a dead worker with EngineWorkerDiedError.
 */
export interface MMambaEngineInterface {
  /** Acquire the GPU device (idempotent: a second call returns the same report while the device lives). */
  init(): Promise<GpuReport>;
  /** Models shipped with the app and whether each is cached. */
  listModels(): Promise<ModelList>;
  /** Load a generator and the VQ tokenizer (download or read from cache, verify, build on the GPU). */
  loadModel(id: string, onProgress?: LoadProgressCallback): Promise<void>;
  /** Generate one image (or `variations` images; or edit one: `initTokens` + `keep`). One at a time: a new request
   * cancels the one running and starts once it stopped. */
  generate(req: GenerateRequest, options?: GenerateOptions): Promise<GenerateResult>;
  /** Image-to-image: an uploaded PNG/JPEG/WebP (the bytes of the file) centre-cropped to the model's image size
   *  and VQ-encoded on the GPU, for `generate`'s `initTokens`. Rejects with ImageRejectedError, whose message is
   *  the reason (not an image, too large, damaged). A model must be loaded. */
  encodeImage(bytes: ArrayBuffer): Promise<EncodedImage>;
  /** The picture of a token grid (row-major H*W, e.g. a step's `tokens`; [MASK] and other ids outside the codebook
   *  drawn as the VQ's neutral code, as step previews draw them), decoded by the loaded model's VQ exactly as a
   *  step preview: what a step whose preview was paced away shows when it is picked. Queued after a running
   *  generation; rejects with InvalidRequestError for a grid of another size. A model must be loaded. */
  decodeTokens(tokens: Uint32Array): Promise<RgbaImage>;
  /** Cancel the running generation (no-op when none runs); its `generate` rejects as cancelled. */
  cancel(): Promise<void>;
  /** Remove a model from IndexedDB (a loaded model stays usable in memory). */
  deleteCachedModel(id: string): Promise<void>;
  storageReport(): Promise<StorageInfo>;
  /** Decodes, crops to the model resolution and VQ-encodes the images, tokenises the captions; keeps the result
   *  as the dataset of the next fine-tuning run. Bad files are rejected one by one; the rest proceed. */
  prepareDataset(items: DatasetItemInput[]): Promise<DatasetReport>;
  /** Trains a LoRA adapter of the loaded generator on the prepared dataset. Generation and model switches are
   *  refused while it runs (pause first to generate). Base weights and saved adapters are never modified. */
  startFineTune(req: FineTuneRequest, onProgress?: FineTuneProgressCallback): Promise<FineTuneResult>;
  pauseFineTune(): Promise<void>;
  resumeFineTune(): Promise<void>;
  /** Stops the run and discards its adapter (no-op when none runs). */
  cancelFineTune(): Promise<void>;
  /** Saves the last run's adapter under `name` (replacing one of that name). Storage full: kept in memory, with a
   * warning. */
  saveAdapter(name: string): Promise<SaveAdapterResult>;
  /** Adapters of the loaded generator (saved, and memory-only ones), newest first. */
  listAdapters(): Promise<AdapterInfoRow[]>;
  deleteAdapter(name: string): Promise<void>;
  /** The adapter as a `.safetensors` file. */
  exportAdapter(name: string): Promise<{ fileName: string; bytes: ArrayBuffer }>;
  /** Validates an adapter file against the loaded generator and saves it (name: the file's stem unless given).
   *  Rejects with AdapterFormatError / AdapterMismatchError messages for damaged or foreign files. */
  importAdapter(bytes: ArrayBuffer, name: string): Promise<SaveAdapterResult>;
  /** Release every GPU resource the engine holds. */
  dispose(): Promise<void>;
}
