// MMambaEngine: the engine in the thread that creates it (a worker, or a page that wants no worker). It is the two
// services put together: generation (the device, the models, one generation at a time) and fine-tuning (datasets,
// runs, adapters), each answering its half of MMambaEngineInterface. The worker proxy (client.ts) runs one of these
// in a worker (handler.ts) and forwards every call to it.
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
import type { AdapterStore } from './finetune/adapter_store';
import { FineTuneService } from './finetune/service';
import { GenerationService } from './generation/service';
import { startEngine, type CreateEngineOptions } from './engine_start';

export interface MMambaEngineOptions {
  /** Where the models' `index.json` and `<id>/manifest.json` are served, on this origin (default `/models/`). */
  modelBaseUrl?: string;
  /** Where adapters are kept (default: this origin's IndexedDB). */
  adapterStore?: AdapterStore;
}

export class MMambaEngine implements MMambaEngineInterface {
  private readonly generation: GenerationService;
  private readonly fineTune: FineTuneService;

  constructor(opts: MMambaEngineOptions = {}) {
    this.generation = new GenerationService({
      modelBaseUrl: opts.modelBaseUrl ?? '/models/',
      fineTune: {
        pipelineFor: (adapter, strength) => this.fineTune.pipelineFor(adapter, strength),
        adapterApplies: (adapter, prompts, everyPrompt) => this.fineTune.adapterApplies(adapter, prompts, everyPrompt),
        assertNotTraining: (what) => this.fineTune.assertNotTraining(what),
        dropGpu: (lost) => this.fineTune.dropGpu(lost),
      },
    });
    this.fineTune = new FineTuneService(this.generation, opts.adapterStore);
  }

  init(): Promise<GpuReport> {
    return this.generation.init();
  }
  listModels(): Promise<ModelList> {
    return this.generation.listModels();
  }
  loadModel(id: string, onProgress?: LoadProgressCallback): Promise<void> {
    return this.generation.loadModel(id, onProgress);
  }
  generate(req: GenerateRequest, options?: GenerateOptions): Promise<GenerateResult> {
    return this.generation.generate(req, options);
  }
  encodeImage(bytes: ArrayBuffer): Promise<EncodedImage> {
    return this.generation.encodeImage(bytes);
  }
  decodeTokens(tokens: Uint32Array): Promise<RgbaImage> {
    return this.generation.decodeTokens(tokens);
  }
  cancel(): Promise<void> {
    return this.generation.cancel();
  }
  deleteCachedModel(id: string): Promise<void> {
    return this.generation.deleteCachedModel(id);
  }
  storageReport(): Promise<StorageInfo> {
    return this.generation.storageReport();
  }
  prepareDataset(items: DatasetItemInput[]): Promise<DatasetReport> {
    return this.fineTune.prepareDataset(items);
  }
  startFineTune(req: FineTuneRequest, onProgress?: FineTuneProgressCallback): Promise<FineTuneResult> {
    return this.fineTune.startFineTune(req, onProgress);
  }
  pauseFineTune(): Promise<void> {
    return this.fineTune.pauseFineTune();
  }
  resumeFineTune(): Promise<void> {
    return this.fineTune.resumeFineTune();
  }
  cancelFineTune(): Promise<void> {
    return this.fineTune.cancelFineTune();
  }
  saveAdapter(name: string): Promise<SaveAdapterResult> {
    return this.fineTune.saveAdapter(name);
  }
  listAdapters(): Promise<AdapterInfoRow[]> {
    return this.fineTune.listAdapters();
  }
  deleteAdapter(name: string): Promise<void> {
    return this.fineTune.deleteAdapter(name);
  }
  exportAdapter(name: string): Promise<{ fileName: string; bytes: ArrayBuffer }> {
    return this.fineTune.exportAdapter(name);
  }
  importAdapter(bytes: ArrayBuffer, name: string): Promise<SaveAdapterResult> {
    return this.fineTune.importAdapter(bytes, name);
  }
  dispose(): Promise<void> {
    return this.generation.dispose();
  }

  /** Destroys the GPU device as a driver reset would (tests of the recovery path; not part of the interface). */
  loseDevice(): void {
    this.generation.loseDevice();
  }
}

/** The engine in this thread, its GPU acquired and `model` loaded (like web-llm's CreateMLCEngine). */
export function CreateMMambaEngine(opts: MMambaEngineOptions & CreateEngineOptions = {}): Promise<MMambaEngine> {
  return startEngine(new MMambaEngine(opts), opts);
}
