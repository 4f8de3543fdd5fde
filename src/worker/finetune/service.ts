// The fine-tuning service: the fine-tuning half of the engine (MMambaEngineInterface in ../api.ts): dataset
// preparation, the run (one at a time), the adapters (IndexedDB + memory-only ones when storage is full), and the
// generation pipeline of an adapter (LoRA merged into a copy of the base weights, cached for the adapter last used).
// The generation service owns the device and the loaded models and lends them through `FineTuneHost`
// (generation/service.ts); this module depends on generation, never the other way round.
//
// Invariants: base weights (`ModelSource.weights`) are never written; cancel discards the run's adapter and
// touches nothing saved; at most one merged pipeline is alive, and it is disposed when the model, the
// adapter's bytes or the device change.
import * as Comlink from 'comlink';
import type { Engine } from '../../engine/engine';
import type { BaseModelRef, LoraAdapter, MMambaConfig } from '../../finetune/api';
import { BPETokenizer, wordBoundarySpec, type TokenizerSpec } from '../../model/bpe';
import type { VQConfig } from '../../model/common';
import type {
  AdapterInfoRow,
  DatasetItemInput,
  DatasetReport,
  MMambaEngineInterface,
  FineTuneProgress,
  FineTuneProgressCallback,
  FineTuneRequest,
  FineTuneResult,
  RgbaImage,
  SaveAdapterResult,
} from '../api';
import { MAX_ADAPTER_FILE_BYTES } from '../../finetune/api';
import { mergedWeightsProblem } from '../../finetune/adapter_format';
import { ADAPTER_EVERY_PROMPT, ADAPTER_STRENGTH } from '../../finetune/defaults';
import { modelWithWord } from '../../finetune/word';
import { adapterApplies } from '../../finetune/word_gate';
import {
  AdapterExistsError,
  AdapterNameError,
  AdapterQuotaError,
  AdapterStore,
  checkAdapterName,
  type StoredAdapter,
} from './adapter_store';
import { DatasetBuilder } from './dataset';
import { fineTunePort } from './port';
import { FineTuneRun } from './session';
import type { Control, ControlRender, RenderSettings } from './drift_guard';
import type { ModelSource, TextToImageLike } from '../generation/model_port';
import type { FineTuneHost, LoadedModels } from '../generation/service';
import { sha256Hex } from '../weight_store';

/** The calls of MMambaEngineInterface that this service answers. */
export type FineTuneApi = Pick<
  MMambaEngineInterface,
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

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** "safe-name.safetensors" for a download. */
function fileNameOf(name: string): string {
  return `${name.replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^-+|-+$/g, '') || 'adapter'}.safetensors`;
}

export class FineTuneService implements FineTuneApi {
  private readonly datasets = new DatasetBuilder();
  /** Adapters that could not be stored (quota), by `${baseId}/${name}`. */
  private readonly memoryOnly = new Map<string, StoredAdapter>();
  private run: { r: FineTuneRun; done: Promise<FineTuneResult> } | null = null;
  /** The last finished run's adapter, until saved or replaced. */
  private trained: { genId: string; adapter: LoraAdapter; rank: number; steps: number } | null = null;
  /** `version` is the entry's savedAt and size: a re-save or re-import under the same name re-merges. */
  private merged: { genId: string; name: string; version: string; strength: number; pipeline: TextToImageLike } | null =
    null;
  private readonly refs = new Map<string, BaseModelRef>();
  /** Each adapter version's word ('' when it names none), for the word gate: `${genId}/${name}@${version}`. */
  private readonly words = new Map<string, string>();
  /** Preparations run one after another, so the dataset a run trains on is the one prepared last. */
  private preparing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly host: FineTuneHost,
    private readonly store = new AdapterStore(),
  ) {}

  // ---- the interface's calls ----------------------------------------------------------------------------------

  async prepareDataset(items: DatasetItemInput[]): Promise<DatasetReport> {
    if (!Array.isArray(items)) throw new Error('prepareDataset needs a list of {id, name, bytes, caption}.');
    if (this.run && !this.run.r.isPaused)
      throw new Error('Fine-tuning is running; cancel it before changing the pictures.');
    const m = this.loadedGenerator();
    const engine = await this.host.ensureEngine();
    const cfg = m.gen.manifest.config as unknown as MMambaConfig;
    const turn = this.preparing.then(() =>
      this.datasets.prepare(items, {
        engine,
        genId: m.genId,
        vqId: m.vqId,
        vqConfig: m.vq.manifest.config as unknown as VQConfig,
        vqWeights: m.vq.weights,
        tokenizer: this.tokenizerOf(m.gen),
        codebookSize: cfg.codebook_size,
      }),
    );
    this.preparing = turn.catch(() => undefined);
    return turn;
  }

  async startFineTune(req: FineTuneRequest, onProgress?: FineTuneProgressCallback): Promise<FineTuneResult> {
    if (this.run) throw new Error('A fine-tuning run is already going; cancel it first.');
    const m = this.loadedGenerator();
    await this.preparing;
    const dataset = this.datasets.dataset(m.genId);
    if (!dataset)
      throw new Error('No pictures are ready: add at least one image (PNG, JPEG or WebP) with its caption first.');
    await this.host.stopGeneration();
    const engine = await this.host.ensureEngine();
    const port = await fineTunePort();
    const ref = await this.baseRef(m.genId, m.gen);
    const tokenizer = this.tokenizerOf(m.gen);
    this.dropMerged(); // free its GPU memory for training
    const r = new FineTuneRun(
      {
        engine,
        port,
        base: { ref, weights: m.gen.weights },
        dataset,
        emptyTextIds: tokenizer.encode(''),
        encodeText: (text) => tokenizer.encode(text),
        tokenizer: m.gen.manifest.tokenizer as unknown as TokenizerSpec,
        sampling: m.sampling,
        preview: (adapter, prompt, settings, seed) =>
          this.previewImage(engine, adapter, m, { prompt, seed, ...settings }),
        renderControls: (adapter, controls, settings) => this.renderControls(engine, adapter, m, controls, settings),
        onProgress: (p) => this.emit(p, onProgress),
      },
      req,
    );
    this.trained = null;
    const done = r.run();
    this.run = { r, done };
    try {
      const result = await done;
      if (r.adapter) this.trained = { genId: m.genId, adapter: r.adapter, rank: r.req.rank, steps: r.stepsDone };
      return result;
    } finally {
      this.run = null;
    }
  }

  async pauseFineTune(): Promise<void> {
    this.run?.r.pause();
  }

  async resumeFineTune(): Promise<void> {
    this.run?.r.resume();
  }

  async cancelFineTune(): Promise<void> {
    const cur = this.run;
    if (!cur) return;
    cur.r.cancel();
    await cur.done.catch(() => undefined);
  }

  async saveAdapter(name: string): Promise<SaveAdapterResult> {
    const n = checkAdapterName(name);
    const m = this.loadedGenerator();
    const t = this.trained;
    if (!t || t.genId !== m.genId) throw new Error('There is no trained adapter to save: run fine-tuning first.');
    const port = await fineTunePort();
    const bytes = port.serializeAdapter(t.adapter);
    const word = t.adapter.info.word ?? '';
    return this.keep({ name: n, baseModelId: m.genId, bytes, savedAt: Date.now(), rank: t.rank, steps: t.steps, word });
  }

  async listAdapters(): Promise<AdapterInfoRow[]> {
    const m = this.host.models();
    if (!m) return [];
    const rows: AdapterInfoRow[] = [];
    for (const r of await this.store.list(m.genId))
      rows.push({ ...r, word: r.word ?? (await this.wordOf(m, r.name).catch(() => '')), persisted: true });
    for (const a of this.memoryOnly.values()) {
      if (a.baseModelId !== m.genId) continue;
      const { bytes, ...rest } = a;
      rows.unshift({ ...rest, word: a.word ?? '', byteLength: bytes.byteLength, persisted: false });
    }
    return rows;
  }

  async deleteAdapter(name: string): Promise<void> {
    const m = this.loadedGenerator();
    const n = checkAdapterName(name);
    if (this.isMerged(m.genId, n)) this.dropMerged();
    this.memoryOnly.delete(`${m.genId}/${n}`);
    await this.store.delete(m.genId, n);
  }

  async exportAdapter(name: string): Promise<{ fileName: string; bytes: ArrayBuffer }> {
    const m = this.loadedGenerator();
    const a = await this.adapterBytes(m.genId, name);
    return { fileName: fileNameOf(a.name), bytes: a.bytes.slice(0) };
  }

  async importAdapter(bytes: ArrayBuffer, name: string): Promise<SaveAdapterResult> {
    const n = checkAdapterName(name);
    if (!(bytes instanceof ArrayBuffer) || bytes.byteLength === 0)
      throw new Error(`Could not import "${n}": the file is empty.`);
    if (bytes.byteLength > MAX_ADAPTER_FILE_BYTES)
      throw new Error(
        `Could not import "${n}": the file is ${(bytes.byteLength / 1048576).toFixed(1)} MB; an adapter is at most ${MAX_ADAPTER_FILE_BYTES / 1048576} MB.`,
      );
    const m = this.loadedGenerator();
    const adapter = await this.checkedAdapter(bytes, m, `Could not import "${n}": `);
    return this.keep(
      {
        name: n,
        baseModelId: m.genId,
        bytes: bytes.slice(0),
        savedAt: Date.now(),
        rank: adapter.config.rank,
        steps: adapter.info.steps ?? 0,
        word: adapter.info.word ?? '',
      },
      true,
    );
  }

  // ---- what the generation service asks of fine-tuning ----------------------------------------------------------

  /** The pipeline generating with adapter `name` of the loaded generator at `strength` (ADAPTER_STRENGTH: 0 the
   *  base model, 1 as trained; merged once, then cached for that adapter and strength). */
  async pipelineFor(name: string, strength: number = ADAPTER_STRENGTH.default): Promise<TextToImageLike> {
    const m = this.loadedGenerator();
    const entry = await this.adapterBytes(m.genId, name);
    const version = `${entry.savedAt}:${entry.bytes.byteLength}`;
    if (
      this.merged &&
      this.isMerged(m.genId, entry.name) &&
      this.merged.version === version &&
      this.merged.strength === strength
    )
      return this.merged.pipeline;
    this.dropMerged();
    // Stored before the merge check existed, or written by another build: the merged weights must still be sane.
    const adapter = await this.checkedAdapter(
      entry.bytes,
      m,
      `Adapter "${entry.name}" cannot be used with this model: `,
    );
    const engine = await this.host.ensureEngine();
    const pipeline = await this.mergedPipeline(engine, adapter, m, strength);
    this.merged = { genId: m.genId, name: entry.name, version, strength, pipeline };
    return pipeline;
  }

  /** The word gate (src/finetune/word_gate.ts) for adapter `name` of the loaded generator: whether it applies to a
   *  request with `prompts`; `everyPrompt` applies it to all. Throws, as pipelineFor does, when there is no such
   *  adapter. The adapter's word is read once per stored version. */
  async adapterApplies(
    name: string,
    prompts: readonly (string | undefined)[],
    everyPrompt: boolean = ADAPTER_EVERY_PROMPT.default,
  ): Promise<boolean> {
    const m = this.loadedGenerator();
    return adapterApplies(await this.wordOf(m, name), prompts, everyPrompt);
  }

  /** Adapter `name`'s word ('' when it names none): the store's when it kept one, else read from the file once per
   *  stored version. Throws, as pipelineFor does, when there is no such adapter. */
  private async wordOf(m: LoadedModels, name: string): Promise<string> {
    const entry = await this.adapterBytes(m.genId, name);
    if (typeof entry.word === 'string') return entry.word;
    const key = `${m.genId}/${entry.name}@${entry.savedAt}:${entry.bytes.byteLength}`;
    let word = this.words.get(key);
    if (word === undefined) {
      const adapter = await this.checkedAdapter(
        entry.bytes,
        m,
        `Adapter "${entry.name}" cannot be used with this model: `,
      );
      word = adapter.info.word ?? '';
      this.words.set(key, word);
    }
    return word;
  }

  /** Throws when a run is training (not paused): generation and model switches wait for it. */
  assertNotTraining(what: string): void {
    if (this.run && !this.run.r.isPaused) throw new Error(`Fine-tuning is running: pause or cancel it before ${what}.`);
  }

  /** Drops GPU objects (device lost, model switched, dispose): the cached merged pipeline; stops a run: with
   *  `lost` (the device-loss error) it keeps the run's last snapshot to save, otherwise it cancels the run. */
  dropGpu(lost?: Error): void {
    this.dropMerged();
    if (lost) this.run?.r.stopForGpuFailure(lost);
    else this.run?.r.cancel();
    this.datasets.clear();
  }

  // ---- helpers ------------------------------------------------------------------------------------------------

  private loadedGenerator(): LoadedModels {
    const m = this.host.models();
    if (!m) throw new Error('No model is loaded yet: wait until the model has loaded, then try again.');
    if (m.gen.manifest.kind !== 'mmamba')
      throw new Error(
        `Fine-tuning works with M-Mamba models; "${m.genId}" is a ${m.gen.manifest.kind} model. Switch the model to M-Mamba first.`,
      );
    return m;
  }

  /** The base's identity: model id, config, and a sha256 over its shards' sha256 (the exact weights). */
  private async baseRef(genId: string, gen: ModelSource): Promise<BaseModelRef> {
    const hit = this.refs.get(genId);
    if (hit) return hit;
    const shards = (gen.manifest as unknown as { shards?: { sha256: string }[] }).shards ?? [];
    const bytes = new TextEncoder().encode(shards.map((s) => s.sha256).join('\n'));
    const ref: BaseModelRef = {
      modelId: genId,
      config: gen.manifest.config as unknown as MMambaConfig,
      manifestSha256: shards.length ? await sha256Hex(bytes.buffer as ArrayBuffer) : undefined,
    };
    this.refs.set(genId, ref);
    return ref;
  }

  /** The captions' tokenizer: the model's, with word-boundary pieces, so "Zorblat," and "zorblat" teach one word
   *  (the adapter's prompts are read the same way: withWordSplit). */
  private tokenizerOf(gen: ModelSource): BPETokenizer {
    const spec = gen.manifest.tokenizer as TokenizerSpec | null | undefined;
    if (!spec) throw new Error(`Model "${gen.manifest.modelId}" ships no tokenizer; it cannot be fine-tuned.`);
    const cfg = gen.manifest.config as unknown as MMambaConfig;
    return new BPETokenizer(wordBoundarySpec(spec), cfg.text.max_len);
  }

  /** Parses adapter bytes against the loaded base and checks the merged weights; messages start with `prefix`. */
  private async checkedAdapter(bytes: ArrayBuffer, m: LoadedModels, prefix: string): Promise<LoraAdapter> {
    const port = await fineTunePort();
    const ref = await this.baseRef(m.genId, m.gen);
    let adapter: LoraAdapter;
    try {
      adapter = port.parseAdapter(bytes, ref);
    } catch (e) {
      throw new Error(`${prefix}${message(e)}`);
    }
    const problem = mergedWeightsProblem(m.gen.weights, adapter);
    if (problem) throw new Error(`${prefix}${problem}.`);
    return adapter;
  }

  private isMerged(genId: string, name: string): boolean {
    return this.merged !== null && this.merged.genId === genId && this.merged.name === name;
  }

  private dropMerged(): void {
    const m = this.merged;
    this.merged = null;
    try {
      m?.pipeline.dispose();
    } catch (e) {
      console.warn('[engine worker] merged pipeline dispose failed', e);
    }
  }

  private async adapterBytes(genId: string, name: string): Promise<StoredAdapter> {
    const n = checkAdapterName(name);
    const mem = this.memoryOnly.get(`${genId}/${n}`);
    if (mem) return mem;
    const got = await this.store.get(genId, n);
    if (!got) throw new Error(`There is no adapter named "${n}" for this model (it may have been deleted).`);
    return got;
  }

  private async mergedPipeline(
    engine: Engine,
    adapter: LoraAdapter,
    m: LoadedModels,
    strength = 1,
  ): Promise<TextToImageLike> {
    const port = await fineTunePort();
    const weights = port.mergeAdapter(m.gen.weights, adapter, strength);
    const merged = { manifest: withWordSplit(m.gen.manifest), weights };
    // an adapter with its own word (textual inversion) brings the word's id, tokenizer entry and table row
    const word =
      adapter.wordEmbedding && adapter.info.word ? { word: adapter.info.word, embedding: adapter.wordEmbedding } : null;
    return this.host.createPipeline(engine, word ? modelWithWord(merged, word) : merged, m.vq);
  }

  /** One preview image of a run: the adapter merged into a copy of the base, generated once, then freed. */
  private async previewImage(
    engine: Engine,
    adapter: LoraAdapter,
    m: LoadedModels,
    req: { prompt: string; seed: number } & RenderSettings,
  ): Promise<RgbaImage> {
    const pipeline = await this.mergedPipeline(engine, adapter, m);
    try {
      const out = await pipeline.generate(req);
      const side = Math.round(Math.sqrt(out.pixels.length / 4));
      return { width: side, height: side, rgba: out.pixels.slice() };
    } finally {
      pipeline.dispose();
    }
  }

  /** The drift guard's control renders: one pipeline (the base's weights, or the adapter merged into a copy) for all
   *  of them, then freed. Both read prompts with the word-boundary tokenizer, as the adapter's generations do. */
  private async renderControls(
    engine: Engine,
    adapter: LoraAdapter | null,
    m: LoadedModels,
    controls: readonly Control[],
    settings: RenderSettings,
  ): Promise<ControlRender[]> {
    const pipeline = adapter
      ? await this.mergedPipeline(engine, adapter, m)
      : await this.host.createPipeline(
          engine,
          { manifest: withWordSplit(m.gen.manifest), weights: m.gen.weights },
          m.vq,
        );
    try {
      const out: ControlRender[] = [];
      for (const c of controls) {
        const r = await pipeline.generate({ prompt: c.prompt, seed: c.seed, ...settings });
        const side = Math.round(Math.sqrt(r.pixels.length / 4));
        out.push({ image: { width: side, height: side, rgba: r.pixels.slice() }, tokens: r.tokens.slice() });
      }
      return out;
    } finally {
      pipeline.dispose();
    }
  }

  /** Sends a run's progress on; the pixels of previews and control renders are given away when they cross to
   *  another thread. */
  private async emit(p: FineTuneProgress, onProgress?: FineTuneProgressCallback): Promise<void> {
    if (!onProgress) return;
    if (p.kind === 'preview') await onProgress(Comlink.transfer(p, [p.image.rgba.buffer]));
    else if (p.kind === 'controls' || p.kind === 'drift')
      await onProgress(
        Comlink.transfer(
          p,
          p.images.map((i) => i.rgba.buffer as ArrayBuffer),
        ),
      );
    else await onProgress(p);
  }

  /** Stores an adapter (`isNew`: refused when the name exists, here or in another tab); when storage is full keeps
   *  it in memory and says so. Any other storage failure is reported in words, never as a raw IndexedDB error. */
  private async keep(entry: StoredAdapter, isNew = false): Promise<SaveAdapterResult> {
    const key = `${entry.baseModelId}/${entry.name}`;
    if (this.isMerged(entry.baseModelId, entry.name)) this.dropMerged();
    try {
      const row = isNew ? await this.store.add(entry, () => this.memoryOnly.has(key)) : await this.store.save(entry);
      this.memoryOnly.delete(key);
      return { adapter: { ...row, word: entry.word ?? '', persisted: true } };
    } catch (e) {
      if (!(e instanceof AdapterQuotaError)) {
        if (e instanceof AdapterExistsError || e instanceof AdapterNameError) throw e;
        throw new Error(`Adapter "${entry.name}" could not be stored (${message(e)}); nothing was changed.`);
      }
      this.memoryOnly.set(key, entry);
      const { bytes, ...rest } = entry;
      return {
        adapter: { ...rest, word: entry.word ?? '', byteLength: bytes.byteLength, persisted: false },
        warning: e.message,
      };
    }
  }
}

/** The manifest with its tokenizer cutting word-boundary pieces: an adapter reads its prompts as its captions were
 *  read in training (tokenizerOf), whatever punctuation or case surrounds the word. */
function withWordSplit<M extends { tokenizer?: unknown }>(manifest: M): M {
  const spec = manifest.tokenizer as TokenizerSpec | null | undefined;
  return spec ? { ...manifest, tokenizer: wordBoundarySpec(spec) } : manifest;
}
