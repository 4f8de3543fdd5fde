// The wire between WebWorkerMMambaEngine (client.ts, on the page) and the worker (handler.ts): MMambaEngineInterface
// with three changes, since an AbortSignal cannot cross a thread: `generate` takes a ticket instead of a signal and
// `abortGeneration(ticket)` aborts it; `ping` and `holdAliveLock` let the page watch that the worker lives. No
// engine code here, so the page's bundle does not pull the engine in.
import type { GenerateProgressCallback, GenerateRequest, GenerateResult, MMambaEngineInterface } from './api';

/** Name prefix of the Web Lock the worker holds while it lives (`<prefix><id>`); the page learns of the worker's
 *  death when its own request for that lock is granted. */
export const ALIVE_LOCK_PREFIX = 'mm-engine-alive/';

/** Every call of the interface but `generate`: they cross unchanged. Typed as a record so that a call added to the
 *  interface and forgotten here fails to compile. */
const PLAIN: Record<Exclude<keyof MMambaEngineInterface, 'generate'>, true> = {
  init: true,
  listModels: true,
  loadModel: true,
  encodeImage: true,
  decodeTokens: true,
  cancel: true,
  deleteCachedModel: true,
  storageReport: true,
  prepareDataset: true,
  startFineTune: true,
  pauseFineTune: true,
  resumeFineTune: true,
  cancelFineTune: true,
  saveAdapter: true,
  listAdapters: true,
  deleteAdapter: true,
  exportAdapter: true,
  importAdapter: true,
  dispose: true,
};
export type PlainCall = keyof typeof PLAIN;
export const PLAIN_CALLS = Object.keys(PLAIN) as PlainCall[];

/** What crosses between WebWorkerMMambaEngine and the worker. */
export type EngineWire = Pick<MMambaEngineInterface, PlainCall> & {
  generate(
    req: GenerateRequest,
    onProgress: GenerateProgressCallback | undefined,
    ticket: number,
  ): Promise<GenerateResult>;
  /** Aborts the generation started with `ticket` (no-op when it has finished). */
  abortGeneration(ticket: number): Promise<void>;
  /** Liveness: answered at once, even mid-generation. */
  ping(): Promise<true>;
  /** Takes the Web Lock `ALIVE_LOCK_PREFIX + id` for the worker's whole life; resolves once held (at once where
   *  Web Locks are missing). */
  holdAliveLock(id: string): Promise<void>;
};
