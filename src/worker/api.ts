// The one typed interface between the UI (main thread) and the engine worker, and the values that cross it.
// Everything here must survive structured clone (comlink): plain objects, typed arrays, no classes, no GPU
// handles. Callbacks cross as `Comlink.proxy(fn)`; the worker may only call them, never keep GPU state in them.
// Step images cross as transferables (Comlink.transfer), so the worker gives up each buffer it sends.

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
  /** MaskGIT steps S, 1..64 (default 12). */
  steps?: number;
  /** Classifier-free guidance scale g (default 4). */
  guidance?: number;
  /** Choice temperature of the re-masking noise (default 4.5). */
  tau?: number;
  /** Sampling temperature (default 1). */
  temperature?: number;
}

/** An RGBA8 image, row-major, `rgba.length === width * height * 4`. */
export interface RgbaImage {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export interface GenerateResult {
  /** Final token grid, row-major (H*W). */
  tokens: Uint32Array;
  image: RgbaImage;
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
  | { kind: 'download'; modelId: string; file: string; loadedBytes: number; totalBytes: number; percent: number; fromCache: boolean }
  | { kind: 'verify'; modelId: string; file: string; done: number; total: number }
  | { kind: 'refetch'; modelId: string; file: string; reason: string }
  | { kind: 'cache-warning'; modelId: string; message: string }
  | { kind: 'compile'; modelId: string }
  | { kind: 'recover'; message: string }
  | { kind: 'ready'; modelId: string; ms: number; fromCache: boolean; persisted: boolean };

/**
 * Progress of a generation, in order.
 * - encode: the prompt going through tokenizer + text encoder (`truncated` when it was cut).
 * - step:   one MaskGIT step done; `pixels` is that step's decode (RGBA 128x128), `masked` the 16x16 mask.
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
      tokens: Uint32Array;
      masked: Uint8Array;
      pixels: Uint8ClampedArray;
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

/**
 * The engine worker's API (exposed with comlink from src/worker/worker.ts).
 * Errors reject with an Error whose `name` is kept in the message prefix ("WeightIntegrityError: ...").
 * A cancelled generation rejects with a message starting "GenerationCancelledError".
 */
export interface EngineWorkerApi {
  /** Acquire the GPU device (idempotent: a second call returns the same report while the device lives). */
  init(): Promise<GpuReport>;
  /** Models shipped with the app and whether each is cached. */
  listModels(): Promise<ModelList>;
  /** Load a generator and the VQ tokenizer (download or read from cache, verify, build on the GPU). */
  loadModel(id: string, onProgress?: LoadProgressCallback): Promise<void>;
  /** Generate one image. One at a time: a new request cancels the one running and starts once it stopped. */
  generate(req: GenerateRequest, onProgress?: GenerateProgressCallback): Promise<GenerateResult>;
  /** Cancel the running generation (no-op when none runs); its `generate` rejects as cancelled. */
  cancel(): Promise<void>;
  /** Remove a model from IndexedDB (a loaded model stays usable in memory). */
  deleteCachedModel(id: string): Promise<void>;
  storageReport(): Promise<StorageInfo>;
  /** Release every GPU resource the worker holds. */
  dispose(): Promise<void>;
}
