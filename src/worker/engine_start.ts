// What the two engine factories (CreateMMambaEngine in engine.ts, CreateWebWorkerMMambaEngine in client.ts) share:
// acquire the GPU, then load the model asked for. Kept apart so the page's bundle does not pull the engine in.
import { WebGPUUnavailableError } from '../engine/errors';
import type { LoadProgressCallback, MMambaEngineInterface } from './api';

/** What both factories take: where the models are, and a model to load at once (with its progress). */
export interface CreateEngineOptions {
  /** A generator id from the model list (e.g. `index.json`'s defaultGenerator) to load before returning. */
  model?: string;
  onLoadProgress?: LoadProgressCallback;
}

/** Acquires the GPU and, when `model` is given, loads it: shared by both factories. A GPU that cannot be had
 *  rejects with WebGPUUnavailableError (or an Error saying what failed). */
export async function startEngine<E extends MMambaEngineInterface>(engine: E, opts: CreateEngineOptions): Promise<E> {
  const report = await engine.init();
  // The report's message is already the whole sentence (for 'unavailable', WebGPUUnavailableError's own).
  if (report.status !== 'ready')
    throw Object.assign(report.status === 'unavailable' ? new WebGPUUnavailableError('') : new Error(), {
      message: report.message,
    });
  if (opts.model !== undefined) await engine.loadModel(opts.model, opts.onLoadProgress);
  return engine;
}
