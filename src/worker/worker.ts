// The engine worker: owns the GPUDevice, the weights (IndexedDB via WeightStore) and all model work off the
// main thread, and exposes exactly `EngineWorkerApi` through comlink. No DOM here; GPU objects never leave
// this realm.
//
// Invariants:
// - At most one generation runs. A new `generate` cancels the running one (its promise rejects as
//   cancelled) and starts once that one has stopped: the latest request wins, nothing queues up.
// - Every GPU-owning object (pipeline, engine, device) is disposed when replaced, on `dispose()`, and after a
//   device loss. A lost device is reported; the next request re-acquires one and rebuilds the loaded model
//   from the weights kept in memory (no download, no IndexedDB read).
import * as Comlink from 'comlink';
import { acquireDevice, describeAdapter, type GpuContext } from '../engine/device';
import { Engine } from '../engine/engine';
import { GpuDeviceLostError, WebGPUUnavailableError } from '../engine/errors';
import {
  ALIVE_LOCK_PREFIX,
  MAX_PROMPT_CHARS,
  type EngineWorkerApi,
  type GenerateProgress,
  type GenerateProgressCallback,
  type GenerateRequest,
  type GenerateResult,
  type GpuReport,
  type LoadProgressCallback,
  type ModelList,
  type StorageInfo,
} from './api';
import type { Manifest } from '../model/weights';
import { modelCode, type ModelSource, type TextToImageLike } from './model-port';
import { checkGenerateRequest } from './requests';
import { GENERATION_SETTINGS } from '../model/settings';
import { WeightStore, type ModelIndex } from './weight-store';
import { createFineTuneWorker } from './finetune-api';

/** The live device, or null before init / after loss or dispose. Invariant: `report` describes `ctx`. */
let ctx: GpuContext | null = null;
let report: GpuReport | null = null;
let engine: Engine | null = null;
/** One in-flight init shared by concurrent callers, so two calls never acquire two devices. */
let pending: Promise<GpuReport> | null = null;
/** Set when the device was lost; cleared (and reported) by the request that recovers. */
let lostMessage: string | null = null;

const store = new WeightStore({ baseUrl: `${import.meta.env.BASE_URL}models/` });
/** Weights kept in memory by model id, so a device loss or a model switch back needs no reload. */
const sources = new Map<string, ModelSource>();
let loaded: { genId: string; vqId: string; pipeline: TextToImageLike } | null = null;
/** The model the UI asked for last (rebuilt after a device loss). */
let wanted: { genId: string; vqId: string } | null = null;
let running: { controller: AbortController; done: Promise<unknown> } | null = null;

function toReport(c: GpuContext): GpuReport {
  return {
    status: 'ready',
    adapter: { ...c.adapterInfo },
    adapterName: describeAdapter(c.adapterInfo),
    features: [...c.features],
    limits: { ...c.limits },
    hasF16: c.hasF16,
    hasSubgroups: c.hasSubgroups,
    hasTimestamps: c.hasTimestamps,
  };
}

/** Drops everything built on the device (best effort: after a loss, dispose may itself complain). `lost`: the
 *  device-loss error; a fine-tuning run then stops keeping its last snapshot instead of being cancelled. */
function dropGpuState(lost?: Error): void {
  fineTune.dropGpu(lost);
  try {
    loaded?.pipeline.dispose();
  } catch (e) {
    console.warn('[engine worker] pipeline dispose failed', e);
  }
  loaded = null;
  try {
    engine?.dispose();
  } catch (e) {
    console.warn('[engine worker] engine dispose failed', e);
  }
  engine = null;
}

async function acquire(): Promise<GpuReport> {
  // A worker has its own navigator; WebGPU is exposed to dedicated workers wherever the page has it.
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  try {
    const c = await acquireDevice(gpu, { label: 'm-mamba-worker' });
    ctx = c;
    report = toReport(c);
    engine = new Engine(c);
    void c.device.lost.then((info) => {
      if (ctx !== c) return; // destroyed by dispose(), or already replaced
      const err = new GpuDeviceLostError(info.reason ?? 'unknown', info.message || 'no detail');
      console.warn(`[engine worker] ${err.message}`);
      lostMessage = err.message;
      running?.controller.abort();
      ctx = null;
      report = null;
      dropGpuState(err);
    });
    return report;
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) return { status: 'unavailable', message: e.message };
    return { status: 'error', message: e instanceof Error ? e.message : String(e) };
  }
}

async function init(): Promise<GpuReport> {
  if (report && ctx) return report;
  pending ??= acquire().finally(() => {
    pending = null;
  });
  return pending;
}

/** The engine, re-acquiring the device when it was lost. Throws when no device can be had. */
async function ensureEngine(): Promise<Engine> {
  if (!engine || !ctx || engine.isLost) {
    if (engine?.isLost && ctx) {
      // The engine saw the loss before the device.lost handler above ran: drop the dead device now.
      lostMessage ??= 'The GPU device was lost. It was re-acquired.';
      ctx = null;
      report = null;
      dropGpuState(new GpuDeviceLostError('unknown', 'noticed by the engine'));
    }
    const r = await init();
    if (r.status !== 'ready') throw new WebGPUUnavailableError(r.message);
  }
  return engine!;
}

function named(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(String(e));
}

/** Reads or downloads the weights of the models not in memory yet (all before any model code runs, so the
 *  cache fills even when the model code fails), then turns them into weight maps. */
async function loadSources(ids: string[], onProgress?: LoadProgressCallback): Promise<{ fromCache: boolean; persisted: boolean }> {
  let fromCache = true;
  let persisted = true;
  const raw: [string, Awaited<ReturnType<WeightStore['load']>>][] = [];
  for (const id of ids) {
    if (sources.has(id)) continue;
    const got = await store.load(id, (p) => onProgress?.(p));
    fromCache &&= got.fromCache;
    persisted &&= got.persisted;
    raw.push([id, got]);
  }
  if (raw.length) {
    const code = await modelCode();
    for (const [id, got] of raw) sources.set(id, { manifest: got.manifest as unknown as Manifest, weights: code.loadWeights(got.manifest, got.shards) });
  }
  return { fromCache, persisted };
}

/** Builds the pipeline for `wanted` on the current engine (after a load, or after a device loss). */
async function build(onCompile?: () => void): Promise<TextToImageLike> {
  const w = wanted;
  if (!w) throw new Error('No model is loaded: load a model before generating.');
  if (loaded && loaded.genId === w.genId && loaded.vqId === w.vqId && engine && !engine.isLost) return loaded.pipeline;
  const eng = await ensureEngine();
  const gen = sources.get(w.genId);
  const vq = sources.get(w.vqId);
  if (!gen || !vq) throw new Error(`Model "${w.genId}" is not in memory; load it again.`);
  onCompile?.();
  const old = loaded;
  loaded = null;
  old?.pipeline.dispose();
  const code = await modelCode();
  const pipeline = await code.createPipeline(eng, gen, vq);
  loaded = { genId: w.genId, vqId: w.vqId, pipeline };
  return pipeline;
}

/** Takes the pending device-loss note (once), for the request that recovers from it. */
function takeLost(): string | null {
  const m = lostMessage;
  lostMessage = null;
  return m;
}

/** Side of a square RGBA image (128 for the shipped VQ; test models may be smaller). */
function side(rgba: Uint8ClampedArray): number {
  return Math.round(Math.sqrt(rgba.length / 4));
}

/** Cuts a prompt to MAX_PROMPT_CHARS code points (never splitting a surrogate pair). */
function clampPrompt(p: string): { text: string; truncated: boolean } {
  // Walks at most MAX_PROMPT_CHARS code points, whatever the prompt's length.
  let n = 0;
  let end = 0;
  for (const ch of p) {
    if (n === MAX_PROMPT_CHARS) return { text: p.slice(0, end), truncated: true };
    n++;
    end += ch.length;
  }
  return { text: p, truncated: false };
}

/** Fine-tuning and adapters (src/worker/finetune-api.ts) on this worker's device and loaded models. */
const fineTune = createFineTuneWorker({
  ensureEngine,
  models: () => {
    const w = loaded ?? wanted;
    const gen = w && sources.get(w.genId);
    const vq = w && sources.get(w.vqId);
    return w && gen && vq ? { genId: w.genId, vqId: w.vqId, gen, vq } : null;
  },
  createPipeline: async (eng, gen, vq) => (await modelCode()).createPipeline(eng, gen, vq),
  stopGeneration: async () => {
    running?.controller.abort();
    await running?.done.catch(() => undefined);
  },
});

/** Held for the worker's whole life: the page's request for the same lock is granted when this realm ends, which is
 *  how it learns that the worker died (client.ts). Resolves once held (or at once where Web Locks are missing). */
const aliveLock: Promise<void> = (() => {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  const id = self.name.split('#')[1];
  if (!locks?.request || !id) return Promise.resolve();
  return new Promise<void>((held) => {
    void locks.request(`${ALIVE_LOCK_PREFIX}${id}`, () => {
      held();
      return new Promise<never>(() => undefined);
    });
  });
})();

const api: EngineWorkerApi = {
  async ping(): Promise<true> {
    await aliveLock;
    return true;
  },
  init,
  ...fineTune.api,

  async listModels(): Promise<ModelList> {
    const idx: ModelIndex = await store.index();
    const order = (k: string) => (k === 'vq' ? 1 : 0);
    const models = await Promise.all(
      [...idx.models]
        .sort((a, b) => order(a.kind) - order(b.kind))
        .map(async (m) => ({
          id: m.id,
          kind: m.kind,
          name: m.name,
          description: m.description ?? '',
          bytes: m.bytes,
          cached: await store.isCached(m.id),
        })),
    );
    return { models, defaultGenerator: idx.defaultGenerator, tokenizer: idx.tokenizer };
  },

  async loadModel(id: string, onProgress?: LoadProgressCallback): Promise<void> {
    const t0 = performance.now();
    const idx = await store.index();
    const entry = idx.models.find((m) => m.id === id);
    if (!entry) throw new Error(`Unknown model "${id}".`);
    if (entry.kind === 'vq') throw new Error(`"${id}" is the image tokenizer, not a generator; pick M-Mamba or UViT.`);
    fineTune.assertNotTraining('switching models');
    // A switch of model cancels the running generation: its pipeline is about to go.
    running?.controller.abort();
    await running?.done.catch(() => undefined);
    const got = await loadSources([idx.tokenizer, id], onProgress);
    wanted = { genId: id, vqId: idx.tokenizer };
    await build(() => onProgress?.({ kind: 'compile', modelId: id }));
    const lost = takeLost();
    if (lost) onProgress?.({ kind: 'recover', message: lost });
    onProgress?.({
      kind: 'ready',
      modelId: id,
      ms: performance.now() - t0,
      fromCache: got.fromCache,
      persisted: got.persisted,
    });
  },

  async generate(raw: GenerateRequest, onProgress?: GenerateProgressCallback): Promise<GenerateResult> {
    // Checked before anything stops or starts: a malformed request leaves the running generation alone.
    const req = checkGenerateRequest(raw);
    if (onProgress !== undefined && typeof onProgress !== 'function') throw new Error('Invalid generation request: onProgress must be a function.');
    // Latest request wins: stop the running one and wait until it has let go of the GPU.
    const prev = running;
    prev?.controller.abort();
    await prev?.done.catch(() => undefined);

    const controller = new AbortController();
    const job = (async (): Promise<GenerateResult> => {
      const t0 = performance.now();
      fineTune.assertNotTraining('generating');
      const base = await build();
      const pipeline = req.adapter ? await fineTune.pipelineFor(req.adapter) : base;
      const lost = takeLost();
      if (lost) await onProgress?.({ kind: 'recover', message: lost });
      const { text, truncated } = clampPrompt(req.prompt);
      const steps = req.steps ?? GENERATION_SETTINGS.steps.default;
      const guidance = req.guidance ?? GENERATION_SETTINGS.guidance.default;
      await onProgress?.({ kind: 'encode', prompt: text, truncated });
      let last: { tokens: Uint32Array; pixels: Uint8ClampedArray } | null = null;
      const code = await modelCode();
      try {
        await pipeline.generate(
          {
            prompt: text,
            negativePrompt: req.negativePrompt ? clampPrompt(req.negativePrompt).text : undefined,
            seed: req.seed >>> 0,
            steps,
            guidance,
            tau: req.tau,
            temperature: req.temperature,
          },
          async (s) => {
            // Copies: the pipeline may reuse its buffers, and the copies are given away (transferred).
            const tokens = s.tokens.slice();
            const masked = s.masked.slice();
            const pixels = s.pixels.slice();
            last = { tokens: tokens.slice(), pixels: pixels.slice() };
            const msg: GenerateProgress = {
              kind: 'step',
              step: s.step,
              steps: s.steps,
              tokens,
              masked,
              pixels,
              width: side(pixels),
              height: side(pixels),
              msStep: s.msStep,
            };
            if (onProgress) await onProgress(Comlink.transfer(msg, [tokens.buffer, masked.buffer, pixels.buffer]));
          },
          controller.signal,
        );
      } catch (e) {
        if (lostMessage) throw new GpuDeviceLostError('lost', 'during generation; the next request re-acquires the GPU');
        if (code.isCancelled(e) || controller.signal.aborted) {
          const c = new Error('Generation cancelled.');
          c.name = 'GenerationCancelledError';
          throw c;
        }
        throw named(e);
      }
      const final = last as { tokens: Uint32Array; pixels: Uint8ClampedArray } | null;
      if (!final) throw new Error('The model produced no step.');
      await onProgress?.({ kind: 'decode' });
      const ms = performance.now() - t0;
      await onProgress?.({ kind: 'done', ms });
      const result: GenerateResult = {
        tokens: final.tokens,
        image: { width: side(final.pixels), height: side(final.pixels), rgba: final.pixels },
        ms,
        prompt: text,
        truncated,
      };
      return Comlink.transfer(result, [final.tokens.buffer, final.pixels.buffer]);
    })();
    const mine = { controller, done: job };
    running = mine;
    try {
      return await job;
    } finally {
      if (running === mine) running = null;
    }
  },

  async cancel(): Promise<void> {
    running?.controller.abort();
    await running?.done.catch(() => undefined);
  },

  async deleteCachedModel(id: string): Promise<void> {
    await store.deleteModel(id);
  },

  async storageReport(): Promise<StorageInfo> {
    return store.storageReport();
  },

  async dispose(): Promise<void> {
    running?.controller.abort();
    await running?.done.catch(() => undefined);
    const c = ctx;
    ctx = null;
    report = null;
    dropGpuState();
    c?.device.destroy();
  },
};

Comlink.expose(api);

// Dev and test builds only (Vite dev server; never in `vite build`): e2e tests trigger a device loss from the
// worker's global scope (Playwright's worker.evaluate) to check the recovery path.
if (import.meta.env.DEV) (self as unknown as { __mmLoseDevice?: () => void }).__mmLoseDevice = () => ctx?.device.destroy();
