// The worker side of the worker proxy: `serveMMambaEngine()` runs an MMambaEngine in the calling worker and answers
// the page's WebWorkerMMambaEngine (client.ts) over comlink, on the wire described in wire.ts (like web-llm's
// WebWorkerMLCEngineHandler). Callbacks arrive as comlink proxies; errors cross as their own class (errors.ts).
import * as Comlink from 'comlink';
import type { GenerateProgressCallback, GenerateRequest, GenerateResult, MMambaEngineInterface } from './api';
import { ALIVE_LOCK_PREFIX, PLAIN_CALLS, type EngineWire, type PlainCall } from './wire';
import { MMambaEngine, type MMambaEngineOptions } from './engine';
import { installErrorTransfer } from './errors';

/** The wire's answers, on one engine. Its only state: the abort controllers of the generations in flight. */
class EngineWorkerHandler {
  private readonly aborts = new Map<number, AbortController>();

  constructor(private readonly engine: MMambaEngineInterface) {}

  wire(): EngineWire {
    const plain = Object.fromEntries(
      PLAIN_CALLS.map((k) => [k, (...args: unknown[]) => (this.engine[k] as (...a: unknown[]) => unknown)(...args)]),
    ) as Pick<MMambaEngineInterface, PlainCall>;
    return {
      ...plain,
      generate: (req, onProgress, ticket) => this.generate(req, onProgress, ticket),
      abortGeneration: async (ticket) => this.aborts.get(ticket)?.abort(),
      ping: async () => true,
      holdAliveLock: (id) => holdAliveLock(id),
    };
  }

  private async generate(
    req: GenerateRequest,
    onProgress: GenerateProgressCallback | undefined,
    ticket: number,
  ): Promise<GenerateResult> {
    const controller = new AbortController();
    this.aborts.set(ticket, controller);
    try {
      return await this.engine.generate(req, { onProgress, signal: controller.signal });
    } finally {
      this.aborts.delete(ticket);
    }
  }
}

function holdAliveLock(id: string): Promise<void> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (!locks?.request || typeof id !== 'string' || !id) return Promise.resolve();
  return new Promise<void>((held) => {
    void locks.request(`${ALIVE_LOCK_PREFIX}${id}`, () => {
      held();
      return new Promise<never>(() => undefined);
    });
  });
}

/** Runs an engine in this worker and answers the page's WebWorkerMMambaEngine; returns the engine. */
export function serveMMambaEngine(opts: MMambaEngineOptions = {}): MMambaEngine {
  installErrorTransfer();
  const engine = new MMambaEngine(opts);
  Comlink.expose(new EngineWorkerHandler(engine).wire());
  return engine;
}
