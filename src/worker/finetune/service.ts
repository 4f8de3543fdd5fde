// The fine-tuning half of the engine worker's API (EngineWorkerApi in api.ts): dataset preparation, the run
// (one at a time), the adapters (IndexedDB + memory-only ones when storage is full), and the generation
// pipeline of an adapter (LoRA merged into a copy of the base weights, cached for the adapter last used).
// worker.ts owns the device and the loaded models and hands them over through `FineTuneHost`.
//
// Invariants: base weights (`ModelSource.weights`) are never written; cancel discards the run's adapter and
// touches nothing saved; at most one merged pipeline is alive, and it is disposed when the model, the
// adapter's bytes or the device change.
import * as Comlink from 'comlink';
import type { Engine } from '../engine/engine';
import type { BaseModelRef, LoraAdapter, MMambaConfig } from '../finetune/api';
import { BPETokenizer, type TokenizerSpec } from '../model/bpe';
import type { VQConfig } from '../model/common';
import type {
  AdapterInfoRow,
  DatasetItemInput,
  DatasetReport,
  EngineWorkerApi,
  FineTuneProgress,
  FineTuneProgressCallback,
  FineTuneRequest,
  FineTuneResult,
  RgbaImage,
  SaveAdapterResult,
} from './api';
import { MAX_ADAPTER_FILE_BYTES } from '../finetune/api';
import { mergedWeightsProblem } from '../finetune/adapter-format';
import { AdapterQuotaError, AdapterStore, checkAdapterName, type StoredAdapter } from './adapter-store';
import { DatasetBuilder } from './finetune-dataset';
import { fineTunePort } from './finetune-port';
import { FineTuneRun } from './finetune-session';
import type { ModelSource, TextToImageLike } from './model-port';
import { sha256Hex } from './weight-store';

/** What the worker lends the fine-tuning code. */
export interface FineTuneHost {
  ensureEngine(): Promise<Engine>;
  /** The loaded generator and VQ (weights in memory), or null when none is loaded. */
  models(): { genId: string; vqId: string; gen: ModelSource; vq: ModelSource } | null;
  createPipeline(engine: Engine, gen: ModelSource, vq: ModelSource): Promise<TextToImageLike>;
  /** Stops a running generation and waits for it (the run needs the GPU to itself). */
  stopGeneration(): Promise<void>;
}

type FineTuneApi = Pick<
  EngineWorkerApi,
  | 'prepareDataset'
  | 'startFineTune'
  | 'pauseFineTune'
  | 'resumeFineTune'
  | 'cancelFineTune'
  | 'saveAdapter'
  | 'listAdapters'
  | 'deleteAdapter'
  | 'exportAdapter'
  | 'importAdapter'
>;

export interface FineTuneWorker {
  api: FineTuneApi;
  /** The pipeline generating with adapter `name` of the loaded generator (merged once, then cached). */
  pipelineFor(name: string): Promise<TextToImageLike>;
  /** Throws when a run is training (not paused): generation and model switches wait for it. */
  assertNotTraining(what: string): void;
  /** Drops GPU objects (device lost, model switched, dispose): the cached merged pipeline; stops a run: with
   *  `lost` (the device-loss error) it keeps the run's last snapshot to save, otherwise it cancels the run. */
  dropGpu(lost?: Error): void;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** "safe-name.safetensors" for a download. */
function fileNameOf(name: string): string {
  return `${name.replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^-+|-+$/g, '') || 'adapter'}.safetensors`;
}

export function createFineTuneWorker(host: FineTuneHost, store = new AdapterStore()): FineTuneWorker {
  const datasets = new DatasetBuilder();
  /** Adapters that could not be stored (quota), by `${baseId}/${name}`. */
  const memoryOnly = new Map<string, StoredAdapter>();
  let run: { r: FineTuneRun; done: Promise<FineTuneResult> } | null = null;
  /** The last finished run's adapter, until saved or replaced. */
  let trained: { genId: string; adapter: LoraAdapter; rank: number; steps: number } | null = null;
  /** `version` is the entry's savedAt and size: a re-save or re-import under the same name re-merges. */
  let merged: { genId: string; name: string; version: string; pipeline: TextToImageLike } | null = null;
  const refs = new Map<string, BaseModelRef>();
  /** Preparations run one after another, so the dataset a run trains on is the one prepared last. */
  let preparing: Promise<unknown> = Promise.resolve();

  function loadedGenerator() {
    const m = host.models();
    if (!m) throw new Error('No model is loaded yet: wait until the model has loaded, then try again.');
    if (m.gen.manifest.kind !== 'mmamba')
      throw new Error(`Fine-tuning works with M-Mamba models; "${m.genId}" is a ${m.gen.manifest.kind} model. Switch the model to M-Mamba first.`);
    return m;
  }

  /** The base's identity: model id, config, and a sha256 over its shards' sha256 (the exact weights). */
  async function baseRef(genId: string, gen: ModelSource): Promise<BaseModelRef> {
    const hit = refs.get(genId);
    if (hit) return hit;
    const shards = (gen.manifest as unknown as { shards?: { sha256: string }[] }).shards ?? [];
    const bytes = new TextEncoder().encode(shards.map((s) => s.sha256).join('\n'));
    const ref: BaseModelRef = {
      modelId: genId,
      config: gen.manifest.config as unknown as MMambaConfig,
      manifestSha256: shards.length ? await sha256Hex(bytes.buffer as ArrayBuffer) : undefined,
    };
    refs.set(genId, ref);
    return ref;
  }

  function tokenizerOf(gen: ModelSource): BPETokenizer {
    const spec = gen.manifest.tokenizer as TokenizerSpec | null | undefined;
    if (!spec) throw new Error(`Model "${gen.manifest.modelId}" ships no tokenizer; it cannot be fine-tuned.`);
    const cfg = gen.manifest.config as unknown as MMambaConfig;
    return new BPETokenizer(spec, cfg.text.max_len);
  }

  function dropMerged(): void {
    const m = merged;
    merged = null;
    try {
      m?.pipeline.dispose();
    } catch (e) {
      console.warn('[engine worker] merged pipeline dispose failed', e);
    }
  }

  async function adapterBytes(genId: string, name: string): Promise<StoredAdapter> {
    const n = checkAdapterName(name);
    const mem = memoryOnly.get(`${genId}/${n}`);
    if (mem) return mem;
    const got = await store.get(genId, n);
    if (!got) throw new Error(`There is no adapter named "${n}" for this model (it may have been deleted).`);
    return got;
  }

  async function mergedPipeline(engine: Engine, adapter: LoraAdapter, m: NonNullable<ReturnType<FineTuneHost['models']>>): Promise<TextToImageLike> {
    const port = await fineTunePort();
    const weights = port.mergeAdapter(m.gen.weights, adapter);
    return host.createPipeline(engine, { manifest: m.gen.manifest, weights }, m.vq);
  }

  /** Stores an adapter (`isNew`: refused when the name exists, here or in another tab); when storage is full keeps
   *  it in memory and says so. Any other storage failure is reported in words, never as a raw IndexedDB error. */
  async function keep(entry: StoredAdapter, isNew = false): Promise<SaveAdapterResult> {
    const key = `${entry.baseModelId}/${entry.name}`;
    if (merged && merged.genId === entry.baseModelId && merged.name === entry.name) dropMerged();
    try {
      const row = isNew ? await store.add(entry, () => memoryOnly.has(key)) : await store.save(entry);
      memoryOnly.delete(key);
      return { adapter: { ...row, persisted: true } };
    } catch (e) {
      if (!(e instanceof AdapterQuotaError)) {
        if (e instanceof Error && (e.name === 'AdapterExistsError' || e.name === 'AdapterNameError')) throw e;
        throw new Error(`Adapter "${entry.name}" could not be stored (${message(e)}); nothing was changed.`);
      }
      memoryOnly.set(key, entry);
      const { bytes, ...rest } = entry;
      return { adapter: { ...rest, byteLength: bytes.byteLength, persisted: false }, warning: e.message };
    }
  }

  const api: FineTuneApi = {
    async prepareDataset(items: DatasetItemInput[]): Promise<DatasetReport> {
      if (!Array.isArray(items)) throw new Error('prepareDataset needs a list of {id, name, bytes, caption}.');
      if (run && !run.r.isPaused) throw new Error('Fine-tuning is running; cancel it before changing the pictures.');
      const m = loadedGenerator();
      const engine = await host.ensureEngine();
      const cfg = m.gen.manifest.config as unknown as MMambaConfig;
      const turn = preparing.then(() => datasets.prepare(items, {
        engine,
        genId: m.genId,
        vqId: m.vqId,
        vqConfig: m.vq.manifest.config as unknown as VQConfig,
        vqWeights: m.vq.weights,
        tokenizer: tokenizerOf(m.gen),
        codebookSize: cfg.codebook_size,
      }));
      preparing = turn.catch(() => undefined);
      return turn;
    },

    async startFineTune(req: FineTuneRequest, onProgress?: FineTuneProgressCallback): Promise<FineTuneResult> {
      if (run) throw new Error('A fine-tuning run is already going; cancel it first.');
      const m = loadedGenerator();
      await preparing;
      const dataset = datasets.dataset(m.genId);
      if (!dataset) throw new Error('No pictures are ready: add at least one image (PNG, JPEG or WebP) with its caption first.');
      await host.stopGeneration();
      const engine = await host.ensureEngine();
      const port = await fineTunePort();
      const ref = await baseRef(m.genId, m.gen);
      const tokenizer = tokenizerOf(m.gen);
      dropMerged(); // free its GPU memory for training
      const emit = async (p: FineTuneProgress) => {
        if (!onProgress) return;
        if (p.kind === 'preview') await onProgress(Comlink.transfer(p, [p.image.rgba.buffer]));
        else await onProgress(p);
      };
      const r = new FineTuneRun(
        {
          engine,
          port,
          base: { ref, weights: m.gen.weights },
          dataset,
          emptyTextIds: tokenizer.encode(''),
          preview: async (adapter, prompt, steps, guidance, seed): Promise<RgbaImage> => {
            const pipeline = await mergedPipeline(engine, adapter, m);
            try {
              const out = await pipeline.generate({ prompt, seed, steps, guidance });
              const side = Math.round(Math.sqrt(out.pixels.length / 4));
              return { width: side, height: side, rgba: out.pixels.slice() };
            } finally {
              pipeline.dispose();
            }
          },
          onProgress: emit,
        },
        req,
      );
      trained = null;
      const done = r.run();
      run = { r, done };
      try {
        const result = await done;
        if (r.adapter) trained = { genId: m.genId, adapter: r.adapter, rank: r.req.rank, steps: r.stepsDone };
        return result;
      } finally {
        run = null;
      }
    },

    async pauseFineTune(): Promise<void> {
      run?.r.pause();
    },

    async resumeFineTune(): Promise<void> {
      run?.r.resume();
    },

    async cancelFineTune(): Promise<void> {
      const cur = run;
      if (!cur) return;
      cur.r.cancel();
      await cur.done.catch(() => undefined);
    },

    async saveAdapter(name: string): Promise<SaveAdapterResult> {
      const n = checkAdapterName(name);
      const m = loadedGenerator();
      if (!trained || trained.genId !== m.genId) throw new Error('There is no trained adapter to save: run fine-tuning first.');
      const port = await fineTunePort();
      const bytes = port.serializeAdapter(trained.adapter);
      return keep({ name: n, baseModelId: m.genId, bytes, savedAt: Date.now(), rank: trained.rank, steps: trained.steps });
    },

    async listAdapters(): Promise<AdapterInfoRow[]> {
      const m = host.models();
      if (!m) return [];
      const rows: AdapterInfoRow[] = (await store.list(m.genId)).map((r) => ({ ...r, persisted: true }));
      for (const a of memoryOnly.values()) {
        if (a.baseModelId !== m.genId) continue;
        const { bytes, ...rest } = a;
        rows.unshift({ ...rest, byteLength: bytes.byteLength, persisted: false });
      }
      return rows;
    },

    async deleteAdapter(name: string): Promise<void> {
      const m = loadedGenerator();
      const n = checkAdapterName(name);
      if (merged && merged.genId === m.genId && merged.name === n) dropMerged();
      memoryOnly.delete(`${m.genId}/${n}`);
      await store.delete(m.genId, n);
    },

    async exportAdapter(name: string): Promise<{ fileName: string; bytes: ArrayBuffer }> {
      const m = loadedGenerator();
      const a = await adapterBytes(m.genId, name);
      return { fileName: fileNameOf(a.name), bytes: a.bytes.slice(0) };
    },

    async importAdapter(bytes: ArrayBuffer, name: string): Promise<SaveAdapterResult> {
      const n = checkAdapterName(name);
      if (!(bytes instanceof ArrayBuffer) || bytes.byteLength === 0) throw new Error(`Could not import "${n}": the file is empty.`);
      if (bytes.byteLength > MAX_ADAPTER_FILE_BYTES)
        throw new Error(`Could not import "${n}": the file is ${(bytes.byteLength / 1048576).toFixed(1)} MB; an adapter is at most ${MAX_ADAPTER_FILE_BYTES / 1048576} MB.`);
      const m = loadedGenerator();
      const port = await fineTunePort();
      const ref = await baseRef(m.genId, m.gen);
      let adapter: LoraAdapter;
      try {
        adapter = port.parseAdapter(bytes, ref);
      } catch (e) {
        throw new Error(`Could not import "${n}": ${message(e)}`);
      }
      const problem = mergedWeightsProblem(m.gen.weights, adapter);
      if (problem) throw new Error(`Could not import "${n}": ${problem}.`);
      return keep({ name: n, baseModelId: m.genId, bytes: bytes.slice(0), savedAt: Date.now(), rank: adapter.config.rank, steps: adapter.info.steps ?? 0 }, true);
    },
  };

  return {
    api,

    async pipelineFor(name: string): Promise<TextToImageLike> {
      const m = loadedGenerator();
      const entry = await adapterBytes(m.genId, name);
      const version = `${entry.savedAt}:${entry.bytes.byteLength}`;
      if (merged && merged.genId === m.genId && merged.name === entry.name && merged.version === version) return merged.pipeline;
      dropMerged();
      const port = await fineTunePort();
      const ref = await baseRef(m.genId, m.gen);
      let adapter: LoraAdapter;
      try {
        adapter = port.parseAdapter(entry.bytes, ref);
      } catch (e) {
        throw new Error(`Adapter "${entry.name}" cannot be used with this model: ${message(e)}`);
      }
      // Stored before this check existed, or written by another build: the merged weights must still be sane.
      const problem = mergedWeightsProblem(m.gen.weights, adapter);
      if (problem) throw new Error(`Adapter "${entry.name}" cannot be used with this model: ${problem}.`);
      const engine = await host.ensureEngine();
      const pipeline = await mergedPipeline(engine, adapter, m);
      merged = { genId: m.genId, name: entry.name, version, pipeline };
      return pipeline;
    },

    assertNotTraining(what: string): void {
      if (run && !run.r.isPaused) throw new Error(`Fine-tuning is running: pause or cancel it before ${what}.`);
    },

    dropGpu(lost?: Error): void {
      dropMerged();
      if (lost) run?.r.stopForGpuFailure(lost);
      else run?.r.cancel();
      datasets.clear();
    },
  };
}
