// The library entry (package.json `exports`, built by `npm run build:lib` into dist-lib/): the engine behind one
// interface, MMambaEngineInterface, as web-llm offers MLCEngineInterface.
// - In this thread:  `await CreateMMambaEngine({ model })` → MMambaEngine.
// - In a worker:     the worker script calls `serveMMambaEngine()`; the page calls
//                    `await CreateWebWorkerMMambaEngine(new Worker(url, { type: 'module' }), { model })`.
// Both load models from `modelBaseUrl` (default `/models/`: `index.json`, `<id>/manifest.json` and shards).
// Errors are the named classes below, the same class on either side of the worker boundary.
export type * from './worker/api';
export { MAX_PROMPT_CHARS } from './worker/api';
export { CreateMMambaEngine, MMambaEngine, type MMambaEngineOptions } from './worker/engine';
export type { CreateEngineOptions } from './worker/engine_start';
export { CreateWebWorkerMMambaEngine, WebWorkerMMambaEngine, type WorkerWatchOptions } from './worker/client';
export { serveMMambaEngine } from './worker/handler';
export {
  AdapterExistsError,
  AdapterFormatError,
  AdapterMismatchError,
  AdapterNameError,
  AdapterQuotaError,
  DownloadError,
  EngineError,
  EngineWorkerDiedError,
  FineTuneMemoryError,
  GenerationCancelledError,
  GpuDeviceLostError,
  GpuLimitError,
  ImageRejectedError,
  InvalidBatchError,
  InvalidFineTuneOptionsError,
  InvalidGenerateRequestError,
  InvalidRequestError,
  ShaderError,
  ShapeError,
  WebGPUUnavailableError,
  WeightIntegrityError,
  WeightQuotaError,
} from './worker/errors';
export { GENERATION_SETTINGS } from './model/settings';
export { DEFAULT_REMASK, keepForStrength, maskedCountForStrength } from './model/strength_mask';
export { FINETUNE_SETTINGS } from './worker/finetune/settings';
export {
  ADAPTER_EVERY_PROMPT,
  ADAPTER_STRENGTH,
  DEFAULT_FINETUNE_OPTIONS,
  DEFAULT_LORA_CONFIG,
} from './finetune/defaults';
export { containsWord } from './finetune/word_gate';
export { GATE_WORD, gateWordProblem, guessWord } from './finetune/word_gate';
