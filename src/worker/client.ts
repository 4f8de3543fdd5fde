// WebWorkerMMambaEngine: the engine interface on the page, answered by an MMambaEngine in a worker (handler.ts), like
// web-llm's WebWorkerMLCEngine. It holds no GPU objects. Progress callbacks cross as comlink proxies, an AbortSignal
// as a ticket the worker aborts, errors as their own class (errors.ts).
//
// Death detection (a worker killed by the browser for memory, a crash, `self.close()`, a hung event loop):
// - a Web Lock: the worker holds `mm-engine-alive/<id>` for its whole life; the proxy queues a request for the
//   same lock, which is granted the moment the worker's realm ends (a lock dies with its holder);
// - `error` / `messageerror` events on the Worker trigger an immediate liveness probe;
// - while any call is pending, a heartbeat: `ping()` every heartbeatMs; no answer within heartbeatTimeoutMs (a
//   worker whose event loop is stuck, or a browser without Web Locks) counts as death.
// On death every pending and later call rejects with EngineWorkerDiedError (no promise hangs), the worker is
// terminated, and `died` resolves with the reason; the app then starts a fresh one (src/ui/app.ts).
import * as Comlink from 'comlink';
import type {
  AdapterInfoRow,
  DatasetItemInput,
  DatasetReport,
  EncodedImage,
  FineTuneProgressCallback,
  FineTuneRequest,
  FineTuneResult,
  GenerateOptions,
  GenerateRequest,
  GenerateResult,
  GpuReport,
  LoadProgressCallback,
  MMambaEngineInterface,
  ModelList,
  RgbaImage,
  SaveAdapterResult,
  StorageInfo,
} from './api';
import { startEngine, type CreateEngineOptions } from './engine_start';
import { EngineWorkerDiedError, installErrorTransfer } from './errors';
import { ALIVE_LOCK_PREFIX, type EngineWire } from './wire';

export interface WorkerWatchOptions {
  /** Ping period while a call is pending (default HEARTBEAT_MS; 0 turns the heartbeat off). */
  heartbeatMs?: number;
  /** No answer to a ping for this long counts as death (default HEARTBEAT_TIMEOUT_MS). */
  heartbeatTimeoutMs?: number;
}

export const HEARTBEAT_MS = 5_000;
export const HEARTBEAT_TIMEOUT_MS = 60_000;

/** Watches one worker: the death signals above, and every call raced against its death. */
class WorkerWatch {
  private deadReason: string | null = null;
  private stopped = false;
  private resolveDied!: (reason: string) => void;
  /** Resolves with the reason when the worker dies on its own (never after `stop`). */
  readonly died = new Promise<string>((r) => (this.resolveDied = r));
  private rejectAll!: (e: Error) => void;
  private readonly death = new Promise<never>((_, reject) => (this.rejectAll = reject));
  private readonly lockAbort = new AbortController();
  private pending = 0;
  private beat: ReturnType<typeof setInterval> | null = null;
  private readonly heartbeatMs: number;
  private readonly heartbeatTimeoutMs: number;

  constructor(
    private readonly worker: Worker,
    private readonly remote: Comlink.Remote<EngineWire>,
    opts: WorkerWatchOptions,
  ) {
    this.heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
    this.heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
    this.death.catch(() => undefined); // observed through each call's race below
    worker.addEventListener('error', (e) => {
      // A load failure (the script never ran) or an uncaught error: is it still answering?
      e.preventDefault?.();
      void this.probe(5_000, `worker error: ${(e as ErrorEvent).message || 'the worker script failed'}`);
    });
    worker.addEventListener(
      'messageerror',
      () => void this.probe(5_000, 'a message from the worker could not be read'),
    );
    this.watchLock();
  }

  /** A call that rejects with EngineWorkerDiedError when the worker dies first; counts as pending for the heartbeat. */
  guard<T>(call: () => Promise<T>): Promise<T> {
    if (this.deadReason !== null) return Promise.reject(new EngineWorkerDiedError(this.deadReason));
    this.pending++;
    this.startHeartbeat();
    return Promise.race([call(), this.death]).finally(() => {
      if (--this.pending === 0) this.stopHeartbeat();
    });
  }

  /** Stops watching and rejects what is pending (the page closed the engine). */
  stop(): void {
    this.stopped = true;
    this.stopHeartbeat();
    this.lockAbort.abort();
    this.rejectAll(new EngineWorkerDiedError('the page closed the engine'));
  }

  /** The worker takes its lock when asked; once it has, our request for the same lock is granted only when the
   *  worker is gone. */
  private watchLock(): void {
    const locks = (navigator as Navigator & { locks?: LockManager }).locks;
    if (!locks?.request) return;
    const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    void this.remote.holdAliveLock(id).then(
      () =>
        locks
          .request(`${ALIVE_LOCK_PREFIX}${id}`, { signal: this.lockAbort.signal }, async () =>
            this.declareDead('the worker was terminated'),
          )
          .catch(() => undefined),
      () => undefined,
    );
  }

  private declareDead(reason: string): void {
    if (this.deadReason !== null || this.stopped) return;
    this.deadReason = reason;
    console.warn(`[engine client] the engine worker died: ${reason}`);
    this.rejectAll(new EngineWorkerDiedError(reason));
    this.stopHeartbeat();
    this.lockAbort.abort();
    try {
      this.worker.terminate();
    } catch {
      /* already gone */
    }
    this.resolveDied(reason);
  }

  /** Resolves when the worker answers a ping within `ms`, else declares it dead. */
  private async probe(ms: number, why: string): Promise<void> {
    if (this.deadReason !== null || this.stopped) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ms)));
    const answer = await Promise.race([
      this.remote.ping().then(
        () => 'ok' as const,
        () => 'late' as const,
      ),
      late,
    ]);
    clearTimeout(timer);
    if (answer === 'late') this.declareDead(why);
  }

  private startHeartbeat(): void {
    if (this.beat || this.heartbeatMs <= 0) return;
    let inFlight = false;
    this.beat = setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      void this.probe(this.heartbeatTimeoutMs, `no answer for ${Math.round(this.heartbeatTimeoutMs / 1000)} s`).finally(
        () => (inFlight = false),
      );
    }, this.heartbeatMs);
  }

  private stopHeartbeat(): void {
    if (this.beat) clearInterval(this.beat);
    this.beat = null;
  }
}

export class WebWorkerMMambaEngine implements MMambaEngineInterface {
  private readonly remote: Comlink.Remote<EngineWire>;
  private readonly watch: WorkerWatch;
  private nextTicket = 1;
  /** Resolves with the reason when the worker dies on its own (not after `terminate`). */
  readonly died: Promise<string>;

  /** `worker`: a module worker whose script calls `serveMMambaEngine()` (handler.ts). */
  constructor(
    private readonly worker: Worker,
    opts: WorkerWatchOptions = {},
  ) {
    installErrorTransfer();
    this.remote = Comlink.wrap<EngineWire>(worker);
    this.watch = new WorkerWatch(worker, this.remote, opts);
    this.died = this.watch.died;
  }

  init(): Promise<GpuReport> {
    return this.watch.guard(() => this.remote.init() as Promise<GpuReport>);
  }
  listModels(): Promise<ModelList> {
    return this.watch.guard(() => this.remote.listModels());
  }
  loadModel(id: string, onProgress?: LoadProgressCallback): Promise<void> {
    return this.watch.guard(() => this.remote.loadModel(id, callback(onProgress)));
  }
  generate(req: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    const ticket = this.nextTicket++;
    const { onProgress, signal } = options;
    const abort = () => void this.remote.abortGeneration(ticket).catch(() => undefined);
    signal?.addEventListener('abort', abort, { once: true });
    return this.watch
      .guard(async () => {
        const running = this.remote.generate(req, callback(onProgress), ticket);
        if (signal?.aborted) abort(); // aborted before the call: the worker has the ticket by the time this arrives
        return running;
      })
      .finally(() => signal?.removeEventListener('abort', abort));
  }
  encodeImage(bytes: ArrayBuffer): Promise<EncodedImage> {
    return this.watch.guard(() => this.remote.encodeImage(bytes));
  }
  decodeTokens(tokens: Uint32Array): Promise<RgbaImage> {
    return this.watch.guard(() => this.remote.decodeTokens(tokens));
  }
  cancel(): Promise<void> {
    return this.watch.guard(() => this.remote.cancel());
  }
  deleteCachedModel(id: string): Promise<void> {
    return this.watch.guard(() => this.remote.deleteCachedModel(id));
  }
  storageReport(): Promise<StorageInfo> {
    return this.watch.guard(() => this.remote.storageReport());
  }
  prepareDataset(items: DatasetItemInput[]): Promise<DatasetReport> {
    return this.watch.guard(() => this.remote.prepareDataset(items));
  }
  startFineTune(req: FineTuneRequest, onProgress?: FineTuneProgressCallback): Promise<FineTuneResult> {
    return this.watch.guard(() => this.remote.startFineTune(req, callback(onProgress)));
  }
  pauseFineTune(): Promise<void> {
    return this.watch.guard(() => this.remote.pauseFineTune());
  }
  resumeFineTune(): Promise<void> {
    return this.watch.guard(() => this.remote.resumeFineTune());
  }
  cancelFineTune(): Promise<void> {
    return this.watch.guard(() => this.remote.cancelFineTune());
  }
  saveAdapter(name: string): Promise<SaveAdapterResult> {
    return this.watch.guard(() => this.remote.saveAdapter(name));
  }
  listAdapters(): Promise<AdapterInfoRow[]> {
    return this.watch.guard(() => this.remote.listAdapters());
  }
  deleteAdapter(name: string): Promise<void> {
    return this.watch.guard(() => this.remote.deleteAdapter(name));
  }
  exportAdapter(name: string): Promise<{ fileName: string; bytes: ArrayBuffer }> {
    return this.watch.guard(() => this.remote.exportAdapter(name));
  }
  importAdapter(bytes: ArrayBuffer, name: string): Promise<SaveAdapterResult> {
    return this.watch.guard(() => this.remote.importAdapter(bytes, name));
  }
  dispose(): Promise<void> {
    return this.watch.guard(() => this.remote.dispose());
  }

  /** Stops the worker (its device goes with it). `died` never resolves after this; pending calls reject. */
  terminate(): void {
    this.watch.stop();
    this.remote[Comlink.releaseProxy]();
    this.worker.terminate();
  }
}

/** A callback the worker may call back across the thread. */
function callback<F extends (...args: never[]) => unknown>(fn: F | undefined): F | undefined {
  return fn === undefined ? undefined : Comlink.proxy(fn);
}

/** The engine in `worker` (whose script calls `serveMMambaEngine()`), its GPU acquired and `model` loaded (like
 *  web-llm's CreateWebWorkerMLCEngine). */
export function CreateWebWorkerMMambaEngine(
  worker: Worker,
  opts: WorkerWatchOptions & CreateEngineOptions = {},
): Promise<WebWorkerMMambaEngine> {
  return startEngine(new WebWorkerMMambaEngine(worker, opts), opts);
}
