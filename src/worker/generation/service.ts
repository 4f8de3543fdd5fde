// The generation service: the generation half of the engine (MMambaEngineInterface in ../api.ts): the device, the
// model list and weights (IndexedDB via WeightStore), the loaded model's pipeline, and one generation at a time.
// It also lends the device and the loaded models to the fine-tuning service (as its FineTuneHost).
//
// Invariants:
// - At most one generation runs. A new `generate` cancels the running one (its promise rejects with
//   GenerationCancelledError) and starts once that one has stopped: the latest request wins, nothing queues up.
// - Every GPU-owning object (pipeline, engine, device) is disposed when replaced, on `dispose()`, and after a
//   device loss. A lost device is reported; the next request re-acquires one and rebuilds the loaded model
//   from the weights kept in memory (no download, no IndexedDB read).
import * as Comlink from 'comlink';
import type { Engine } from '../../engine/engine';
import { GpuDeviceLostError } from '../../engine/errors';
import { GenerationCancelledError, InvalidRequestError } from '../../model/errors';
import { samplingDefault, type SamplingDefaults } from '../../model/settings';
import type { Manifest } from '../../model/weights';
import type {
  EncodedImage,
  GenerateOptions,
  GenerateProgress,
  GenerateProgressCallback,
  GenerateRequest,
  GenerateResult,
  GpuReport,
  LoadProgressCallback,
  MMambaEngineInterface,
  ModelList,
  RgbaImage,
  StorageInfo,
} from '../api';
import { clampPrompt } from '../prompt';
import { WeightStore } from '../weight_store';
import { DeviceKeeper } from './device';
import { modelCode, type ModelSource, type StepInfo, type TextToImageLike } from './model_port';
import { checkGenerateRequest } from './requests';
import { encodeUploadedImage } from './encode_image';

/** What generation lends the fine-tuning service: the device and the loaded models. */
export interface FineTuneHost {
  ensureEngine(): Promise<Engine>;
  /** The loaded generator and VQ (weights in memory), or null when none is loaded. */
  models(): LoadedModels | null;
  createPipeline(engine: Engine, gen: ModelSource, vq: ModelSource): Promise<TextToImageLike>;
  /** Stops a running generation and waits for it (the run needs the GPU to itself). */
  stopGeneration(): Promise<void>;
}

export interface LoadedModels {
  genId: string;
  vqId: string;
  gen: ModelSource;
  vq: ModelSource;
  /** The generator's recommended sampling settings (its index.json `sampling`; absent: the page-wide defaults). */
  sampling?: SamplingDefaults;
}

/** What generation asks of fine-tuning: adapters' pipelines, the GPU to itself while training, and GPU clean-up. */
export interface FineTuneHooks {
  pipelineFor(adapter: string, strength?: number): Promise<TextToImageLike>;
  /** The word gate: whether the adapter applies to a request with these prompts (false: the base model draws it). */
  adapterApplies(adapter: string, prompts: readonly (string | undefined)[], everyPrompt?: boolean): Promise<boolean>;
  assertNotTraining(what: string): void;
  dropGpu(lost?: Error): void;
}

export interface GenerationServiceOptions {
  /** Where `index.json` and `<id>/manifest.json` are served (same origin). */
  modelBaseUrl: string;
  fineTune: FineTuneHooks;
}

/** The calls of MMambaEngineInterface that this service answers. */
export type GenerationApi = Pick<
  MMambaEngineInterface,
  | 'init'
  | 'listModels'
  | 'loadModel'
  | 'generate'
  | 'encodeImage'
  | 'decodeTokens'
  | 'cancel'
  | 'deleteCachedModel'
  | 'storageReport'
  | 'dispose'
>;

/** Side of a square RGBA image (128 for the shipped VQ; test models may be smaller). */
function side(rgba: Uint8ClampedArray): number {
  return Math.round(Math.sqrt(rgba.length / 4));
}

/** `count` images laid one after another (tokens (count, HW), pixels count RGBA squares) as separate copies. */
function splitImages(
  tokens: Uint32Array,
  pixels: Uint8ClampedArray,
  count: number,
): Array<{ tokens: Uint32Array; image: RgbaImage }> {
  const hw = tokens.length / count;
  const bytes = pixels.length / count;
  return Array.from({ length: count }, (_, i) => {
    const rgba = pixels.slice(i * bytes, (i + 1) * bytes);
    return { tokens: tokens.slice(i * hw, (i + 1) * hw), image: { width: side(rgba), height: side(rgba), rgba } };
  });
}

/** The pipeline a request draws with: its adapter's (merged at its strength) when the word gate lets the adapter
 *  apply to `prompts` (the prompt and negative prompt as the engine reads them), else `base` itself, so a prompt
 *  without the adapter's word is drawn exactly as without an adapter. */
export async function requestPipeline(
  fineTune: Pick<FineTuneHooks, 'adapterApplies' | 'pipelineFor'>,
  base: TextToImageLike,
  req: Pick<GenerateRequest, 'adapter' | 'adapterStrength' | 'adapterEveryPrompt'>,
  prompts: readonly (string | undefined)[],
): Promise<TextToImageLike> {
  if (!req.adapter || !(await fineTune.adapterApplies(req.adapter, prompts, req.adapterEveryPrompt))) return base;
  return fineTune.pipelineFor(req.adapter, req.adapterStrength);
}

export class GenerationService implements GenerationApi, FineTuneHost {
  private readonly device: DeviceKeeper;
  private readonly store: WeightStore;
  private readonly fineTune: FineTuneHooks;
  /** Weights kept in memory by model id, so a device loss or a model switch back needs no reload. */
  private readonly sources = new Map<string, ModelSource>();
  private loaded: { genId: string; vqId: string; pipeline: TextToImageLike } | null = null;
  /** The model asked for last (rebuilt after a device loss). */
  private wanted: { genId: string; vqId: string } | null = null;
  /** The loaded generator's recommended sampling settings (its index.json entry): a request's missing ones. */
  private sampling: SamplingDefaults = {};
  private running: { controller: AbortController; done: Promise<unknown> } | null = null;

  constructor(opts: GenerationServiceOptions) {
    this.store = new WeightStore({ baseUrl: opts.modelBaseUrl });
    this.fineTune = opts.fineTune;
    this.device = new DeviceKeeper(
      {
        abortWork: () => this.running?.controller.abort(),
        dropDependents: (lost) => this.dropGpuState(lost),
      },
      'm-mamba-worker',
    );
  }

  // ---- the interface's calls ----------------------------------------------------------------------------------

  init(): Promise<GpuReport> {
    return this.device.init();
  }

  async listModels(): Promise<ModelList> {
    const idx = await this.store.index();
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
          cached: await this.store.isCached(m.id),
          sampling: m.sampling ?? {},
        })),
    );
    return { models, defaultGenerator: idx.defaultGenerator, tokenizer: idx.tokenizer };
  }

  async loadModel(id: string, onProgress?: LoadProgressCallback): Promise<void> {
    const t0 = performance.now();
    const idx = await this.store.index();
    const entry = idx.models.find((m) => m.id === id);
    if (!entry) throw new Error(`Unknown model "${id}".`);
    if (entry.kind === 'vq') throw new Error(`"${id}" is the image tokenizer, not a generator; pick M-Mamba or UViT.`);
    this.fineTune.assertNotTraining('switching models');
    // A switch of model cancels the running generation: its pipeline is about to go.
    await this.stopGeneration();
    const got = await this.loadSources([idx.tokenizer, id], onProgress);
    this.wanted = { genId: id, vqId: idx.tokenizer };
    this.sampling = entry.sampling ?? {};
    await this.build(() => onProgress?.({ kind: 'compile', modelId: id }));
    const lost = this.device.takeLost();
    if (lost) onProgress?.({ kind: 'recover', message: lost });
    onProgress?.({
      kind: 'ready',
      modelId: id,
      ms: performance.now() - t0,
      fromCache: got.fromCache,
      persisted: got.persisted,
    });
  }

  async generate(raw: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    // Checked before anything stops or starts: a malformed request leaves the running generation alone.
    const req = checkGenerateRequest(raw);
    const { onProgress, signal } = options ?? {};
    if (onProgress !== undefined && typeof onProgress !== 'function')
      throw new Error('Invalid generation request: onProgress must be a function.');
    // Latest request wins: stop the running one and wait until it has let go of the GPU.
    await this.stopGeneration();
    const controller = new AbortController();
    const follow = () => controller.abort();
    if (signal?.aborted) controller.abort();
    signal?.addEventListener('abort', follow, { once: true });
    const mine = { controller, done: this.runGeneration(req, controller.signal, onProgress) };
    this.running = mine;
    try {
      return await mine.done;
    } finally {
      signal?.removeEventListener('abort', follow);
      if (this.running === mine) this.running = null;
    }
  }

  async encodeImage(bytes: ArrayBuffer): Promise<EncodedImage> {
    this.fineTune.assertNotTraining('reading a picture');
    const m = this.models();
    if (!m) throw new Error('No model is loaded: load a model before uploading a picture.');
    const engine = await this.device.ensureEngine();
    const codebookSize = (m.gen.manifest.config as unknown as { codebook_size: number }).codebook_size;
    const encoded = await encodeUploadedImage(engine, m.vq, codebookSize, bytes);
    return Comlink.transfer(encoded, [encoded.tokens.buffer, encoded.image.rgba.buffer]);
  }

  async decodeTokens(tokens: Uint32Array): Promise<RgbaImage> {
    this.fineTune.assertNotTraining('decoding a step');
    if (!(tokens instanceof Uint32Array)) throw new InvalidRequestError('tokens must be a Uint32Array (a token grid)');
    // the base pipeline's VQ (an adapter changes only the generator); queued after a running generation
    const pipeline = await this.build();
    const rgba = await pipeline.decodePreview(tokens, 1);
    const w = side(rgba);
    return Comlink.transfer({ width: w, height: w, rgba }, [rgba.buffer]);
  }

  async cancel(): Promise<void> {
    await this.stopGeneration();
  }

  async deleteCachedModel(id: string): Promise<void> {
    await this.store.deleteModel(id);
  }

  async storageReport(): Promise<StorageInfo> {
    return this.store.storageReport();
  }

  async dispose(): Promise<void> {
    await this.stopGeneration();
    this.device.release();
  }

  // ---- what fine-tuning borrows (FineTuneHost) ------------------------------------------------------------------

  ensureEngine(): Promise<Engine> {
    return this.device.ensureEngine();
  }

  models(): LoadedModels | null {
    const w = this.loaded ?? this.wanted;
    const gen = w && this.sources.get(w.genId);
    const vq = w && this.sources.get(w.vqId);
    return w && gen && vq ? { genId: w.genId, vqId: w.vqId, gen, vq, sampling: this.sampling } : null;
  }

  async createPipeline(engine: Engine, gen: ModelSource, vq: ModelSource): Promise<TextToImageLike> {
    return (await modelCode()).createPipeline(engine, gen, vq);
  }

  async stopGeneration(): Promise<void> {
    this.running?.controller.abort();
    await this.running?.done.catch(() => undefined);
  }

  /** Destroys the device as a driver reset would (tests of the recovery path). */
  loseDevice(): void {
    this.device.loseDevice();
  }

  // ---- helpers ------------------------------------------------------------------------------------------------

  /** One generation, start to end: the pipeline (base, or the adapter when its word gate lets it), the prompt, the
   *  steps, the result. */
  private async runGeneration(
    req: GenerateRequest,
    signal: AbortSignal,
    onProgress?: GenerateProgressCallback,
  ): Promise<GenerateResult> {
    const t0 = performance.now();
    this.fineTune.assertNotTraining('generating');
    const base = await this.build();
    const { text, truncated } = clampPrompt(req.prompt);
    const negative = req.negativePrompt ? clampPrompt(req.negativePrompt).text : undefined;
    const pipeline = await requestPipeline(this.fineTune, base, req, [text, negative]);
    const lost = this.device.takeLost();
    if (lost) await onProgress?.({ kind: 'recover', message: lost });
    await onProgress?.({ kind: 'encode', prompt: text, truncated });
    let final: { tokens: Uint32Array; pixels: Uint8ClampedArray }; // the result: its last step, always decoded
    const code = await modelCode();
    try {
      final = await pipeline.generate(
        {
          prompt: text,
          negativePrompt: negative,
          seed: req.seed >>> 0,
          steps: req.steps ?? samplingDefault('steps', this.sampling),
          guidance: req.guidance ?? samplingDefault('guidance', this.sampling),
          tau: req.tau ?? samplingDefault('tau', this.sampling),
          temperature: req.temperature ?? samplingDefault('temperature', this.sampling),
          initTokens: req.initTokens,
          keep: req.keep,
          strength: req.strength,
          remask: req.remask,
          variations: req.variations,
          previewEveryMs: req.previewEveryMs,
        },
        (s) => this.sendStep(s, onProgress),
        signal,
      );
    } catch (e) {
      if (this.device.wasLost)
        throw new GpuDeviceLostError('lost', 'during generation; the next request re-acquires the GPU');
      if (code.isCancelled(e) || signal.aborted)
        throw e instanceof GenerationCancelledError ? e : new GenerationCancelledError(0);
      throw e instanceof Error ? e : new Error(String(e));
    }
    await onProgress?.({ kind: 'decode' });
    const ms = performance.now() - t0;
    await onProgress?.({ kind: 'done', ms });
    const count = req.variations ?? 1;
    const images = splitImages(final.tokens, final.pixels, count);
    const result: GenerateResult = { tokens: images[0]!.tokens, image: images[0]!.image, ms, prompt: text, truncated };
    const transfer = [images[0]!.tokens.buffer, images[0]!.image.rgba.buffer];
    if (count > 1) {
      // the variations' own copies (the first is sent twice: a buffer can be transferred only once)
      result.variations = splitImages(final.tokens, final.pixels, count).map((v, i) => ({
        seed: (req.seed + i) >>> 0,
        ...v,
      }));
      for (const v of result.variations) transfer.push(v.tokens.buffer, v.image.rgba.buffer);
    }
    return Comlink.transfer(result, transfer);
  }

  /** Sends one step on (its buffers given away when it crosses a thread). A step without pixels (its preview decode
   *  paced away, src/model/pipeline.ts previewEveryMs) goes on without them: the page keeps the image it shows, and
   *  asks decodeTokens for the step's own when the step is picked. */
  private async sendStep(s: StepInfo, onProgress?: GenerateProgressCallback): Promise<void> {
    if (!onProgress) return;
    // Copies: the pipeline's arrays are also its result's, and the copies are given away (transferred).
    const tokens = s.tokens.slice();
    const masked = s.masked.slice();
    const pixels = s.pixels?.slice();
    const msg: GenerateProgress = {
      kind: 'step',
      step: s.step,
      steps: s.steps,
      count: s.count,
      tokens,
      masked,
      pixels,
      width: s.imageSize,
      height: s.imageSize,
      msStep: s.msStep,
    };
    const transfer = [tokens.buffer, masked.buffer];
    if (pixels) transfer.push(pixels.buffer);
    await onProgress(Comlink.transfer(msg, transfer));
  }

  /** Drops everything built on the device: fine-tuning's GPU objects, then the loaded pipeline. */
  private dropGpuState(lost?: Error): void {
    this.fineTune.dropGpu(lost);
    try {
      this.loaded?.pipeline.dispose();
    } catch (e) {
      console.warn('[engine] pipeline dispose failed', e);
    }
    this.loaded = null;
  }

  /** Reads or downloads the weights of the models not in memory yet (all before any model code runs, so the
   *  cache fills even when the model code fails), then turns them into weight maps. */
  private async loadSources(
    ids: string[],
    onProgress?: LoadProgressCallback,
  ): Promise<{ fromCache: boolean; persisted: boolean }> {
    let fromCache = true;
    let persisted = true;
    const raw: [string, Awaited<ReturnType<WeightStore['load']>>][] = [];
    for (const id of ids) {
      if (this.sources.has(id)) continue;
      const got = await this.store.load(id, (p) => onProgress?.(p));
      fromCache &&= got.fromCache;
      persisted &&= got.persisted;
      raw.push([id, got]);
    }
    if (raw.length) {
      const code = await modelCode();
      for (const [id, got] of raw)
        this.sources.set(id, {
          manifest: got.manifest as unknown as Manifest,
          weights: code.loadWeights(got.manifest, got.shards),
        });
    }
    return { fromCache, persisted };
  }

  /** Builds the pipeline for `wanted` on the current engine (after a load, or after a device loss). */
  private async build(onCompile?: () => void): Promise<TextToImageLike> {
    const w = this.wanted;
    if (!w) throw new Error('No model is loaded: load a model before generating.');
    if (this.loaded && this.loaded.genId === w.genId && this.loaded.vqId === w.vqId && this.device.isLive)
      return this.loaded.pipeline;
    const eng = await this.device.ensureEngine();
    const gen = this.sources.get(w.genId);
    const vq = this.sources.get(w.vqId);
    if (!gen || !vq) throw new Error(`Model "${w.genId}" is not in memory; load it again.`);
    onCompile?.();
    const old = this.loaded;
    this.loaded = null;
    old?.pipeline.dispose();
    const pipeline = await this.createPipeline(eng, gen, vq);
    this.loaded = { genId: w.genId, vqId: w.vqId, pipeline };
    return pipeline;
  }
}
