// The one typed interface between the UI (main thread) and the engine worker, and the values that cross it.
// Everything here must survive structured clone (comlink): plain objects, typed arrays, no classes, no GPU
// handles. Callbacks cross as `Comlink.proxy(fn)`; the worker may only call them, never keep GPU state in them.

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

/** A model the worker can load (from `public/models/<id>/manifest.json`). */
export interface ModelInfo {
  id: string;
  kind: 'mmamba' | 'uvit' | 'vq';
  /** Total bytes of all shards (what a first load downloads). */
  bytes: number;
  /** Already stored in IndexedDB under the current format version: loading needs no download. */
  cached: boolean;
}

export interface GenerateRequest {
  prompt: string;
  negativePrompt?: string;
  /** MaskGIT steps S (default 12). */
  steps?: number;
  /** Classifier-free guidance scale g (default 4). */
  guidance?: number;
  /** u32 seed; the same seed, prompt and settings give the same tokens. */
  seed: number;
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
  tokens: Int32Array;
  image: RgbaImage;
  /** Wall time of the whole generation in the worker. */
  ms: number;
}

/**
 * Progress of a load or a generation, in the order it happens.
 * - download: weights coming over the network (or read from IndexedDB when `fromCache`).
 * - compile:  pipelines being created (first use after a load).
 * - encode:   the prompt going through tokenizer + text encoder.
 * - step:     one MaskGIT step finished; `image` is that step's decoded grid (masked cells drawn as such).
 * - decode:   the final VQ decode.
 * - done:     finished; nothing follows.
 */
export type Progress =
  | { kind: 'download'; modelId: string; loadedBytes: number; totalBytes: number; fromCache: boolean }
  | { kind: 'compile'; done: number; total: number }
  | { kind: 'encode' }
  | { kind: 'step'; step: number; steps: number; maskedFraction: number; image?: RgbaImage }
  | { kind: 'decode' }
  | { kind: 'done'; ms: number };

export type ProgressCallback = (p: Progress) => void;

/** The engine worker's API (exposed with comlink from src/worker/worker.ts). */
export interface EngineWorkerApi {
  /** Acquire the GPU device (idempotent: a second call returns the same report while the device lives). */
  init(): Promise<GpuReport>;
  /** Models shipped with the app and whether each is cached. */
  listModels(): Promise<ModelInfo[]>;
  /** Download (or read from cache), verify and upload a model's weights; rejects on integrity errors. */
  loadModel(id: string, onProgress?: ProgressCallback): Promise<void>;
  /** Generate one image; rejects when no model is loaded. */
  generate(req: GenerateRequest, onProgress?: ProgressCallback): Promise<GenerateResult>;
  /** Release every GPU resource the worker holds. */
  dispose(): Promise<void>;
}
