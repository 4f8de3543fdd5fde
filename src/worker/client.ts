// Main-thread handle on the engine worker: starts the module worker and wraps it with comlink.
// This is the only place the UI touches the worker; it holds no GPU objects.
import * as Comlink from 'comlink';
import type { EngineWorkerApi } from './api';

export interface EngineClient {
  /** The worker's API; every call is async and crosses a structured-clone boundary. */
  api: Comlink.Remote<EngineWorkerApi>;
  /** Wrap a progress callback so it can be passed to `loadModel` / `generate`. */
  progress<F extends (...args: never[]) => unknown>(fn: F): F;
  /** Stop the worker (its device goes with it). */
  terminate(): void;
}

export function createEngineClient(): EngineClient {
  // The literal `new URL(..., import.meta.url)` form is what Vite detects to bundle the worker.
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'm-mamba-engine' });
  const api = Comlink.wrap<EngineWorkerApi>(worker);
  return {
    api,
    progress: (fn) => Comlink.proxy(fn),
    terminate: () => {
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
