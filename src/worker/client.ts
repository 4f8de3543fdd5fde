// Main-thread handle on the engine worker: starts the module worker, wraps it with comlink, and watches that it
// lives. This is the only place the UI touches the worker; it holds no GPU objects.
//
// Death detection (a worker killed by the browser for memory, a crash, `self.close()`, a hung event loop):
// - a Web Lock: the worker holds `mm-engine-alive/<id>` for its whole life; the client queues a request for the
//   same lock, which is granted the moment the worker's realm ends (a lock dies with its holder);
// - `error` / `messageerror` events on the Worker trigger an immediate liveness probe;
// - while any call is pending, a heartbeat: `ping()` every HEARTBEAT_MS; no answer within HEARTBEAT_TIMEOUT_MS (a
//   worker whose event loop is stuck, or a browser without Web Locks) counts as death.
// On death every pending and later call rejects with EngineWorkerDiedError (no promise hangs), the worker is
// terminated, and `died` resolves with the reason; the app then starts a fresh client (src/ui/app.ts).
import * as Comlink from 'comlink';
import { ALIVE_LOCK_PREFIX, type EngineWorkerApi } from './api';

/** The engine worker stopped; `message` says how, and that the app restarts it. */
export class EngineWorkerDiedError extends Error {
  constructor(reason: string) {
    super(`The engine stopped unexpectedly (${reason}).`);
    this.name = 'EngineWorkerDiedError';
  }
}

export interface EngineClient {
  /** The worker's API; every call is async, crosses a structured-clone boundary, and rejects with
   *  EngineWorkerDiedError if the worker dies first. */
  api: Comlink.Remote<EngineWorkerApi>;
  /** Wrap a progress callback so it can be passed to `loadModel` / `generate`. */
  progress<F extends (...args: never[]) => unknown>(fn: F): F;
  /** Stop the worker (its device goes with it). `died` never resolves after this. */
  terminate(): void;
  /** Resolves with the reason when the worker dies on its own (not after `terminate`). */
  died: Promise<string>;
}

export interface EngineClientOptions {
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
}

export const HEARTBEAT_MS = 5_000;
export const HEARTBEAT_TIMEOUT_MS = 60_000;

export function createEngineClient(opts: EngineClientOptions = {}): EngineClient {
  const heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
  const heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
  const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  // The literal `new URL(..., import.meta.url)` form is what Vite detects to bundle the worker.
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: `m-mamba-engine#${id}` });
  const remote = Comlink.wrap<EngineWorkerApi>(worker);

  let deadReason: string | null = null;
  let stopped = false;
  let resolveDied!: (reason: string) => void;
  const died = new Promise<string>((r) => (resolveDied = r));
  let rejectAll!: (e: Error) => void;
  const death = new Promise<never>((_, reject) => (rejectAll = reject));
  death.catch(() => undefined); // observed through each call's race below
  const lockAbort = new AbortController();
  let pending = 0;
  let beat: ReturnType<typeof setInterval> | null = null;

  function declareDead(reason: string): void {
    if (deadReason !== null || stopped) return;
    deadReason = reason;
    console.warn(`[engine client] the engine worker died: ${reason}`);
    rejectAll(new EngineWorkerDiedError(reason));
    stopHeartbeat();
    lockAbort.abort();
    try {
      worker.terminate();
    } catch {
      /* already gone */
    }
    resolveDied(reason);
  }

  /** Resolves when the worker answers a ping within `ms`, else declares it dead. */
  async function probe(ms: number, why: string): Promise<void> {
    if (deadReason !== null || stopped) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ms)));
    const answer = await Promise.race([remote.ping().then(() => 'ok' as const, () => 'late' as const), late]);
    clearTimeout(timer);
    if (answer === 'late') declareDead(why);
  }

  function startHeartbeat(): void {
    if (beat || heartbeatMs <= 0) return;
    let inFlight = false;
    beat = setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      void probe(heartbeatTimeoutMs, `no answer for ${Math.round(heartbeatTimeoutMs / 1000)} s`).finally(() => (inFlight = false));
    }, heartbeatMs);
  }
  function stopHeartbeat(): void {
    if (beat) clearInterval(beat);
    beat = null;
  }

  worker.addEventListener('error', (e) => {
    // A load failure (the script never ran) or an uncaught error: is it still answering?
    e.preventDefault?.();
    void probe(5_000, `worker error: ${(e as ErrorEvent).message || 'the worker script failed'}`);
  });
  worker.addEventListener('messageerror', () => void probe(5_000, 'a message from the worker could not be read'));

  // The worker takes its lock first thing; once it answers a ping it holds it, and our request for the same lock is
  // granted only when the worker is gone.
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (locks?.request)
    void remote.ping().then(
      () =>
        locks
          .request(`${ALIVE_LOCK_PREFIX}${id}`, { signal: lockAbort.signal }, async () => declareDead('the worker was terminated'))
          .catch(() => undefined),
      () => undefined,
    );

  /** A call that rejects with EngineWorkerDiedError when the worker dies first; counts as pending for the heartbeat. */
  function guard<T>(call: () => Promise<T>): Promise<T> {
    if (deadReason !== null) return Promise.reject(new EngineWorkerDiedError(deadReason));
    pending++;
    startHeartbeat();
    return Promise.race([call(), death]).finally(() => {
      if (--pending === 0) stopHeartbeat();
    });
  }

  const api = new Proxy({} as Comlink.Remote<EngineWorkerApi>, {
    get(_, prop) {
      if (prop === 'then' || typeof prop === 'symbol') return undefined;
      return (...args: unknown[]) => guard(() => (remote as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[prop]!(...args));
    },
  });

  return {
    api,
    progress: (fn) => Comlink.proxy(fn),
    died,
    terminate: () => {
      stopped = true;
      stopHeartbeat();
      lockAbort.abort();
      rejectAll(new EngineWorkerDiedError('the page closed the engine'));
      remote[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
