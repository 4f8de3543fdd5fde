// The worker's view of the model code (src/model/weights.ts, src/model/pipeline.ts, owned by the model
// engineer): the signatures the worker codes against, and a loader that imports those modules lazily.
// `import.meta.glob` makes the build succeed before the files exist (the glob is then empty and loading a
// model fails with ModelCodeMissingError); once they land the same code picks them up with no change here.
import type { Engine } from '../engine/engine';

export type WeightMap = unknown;

export interface StepInfo {
  step: number;
  steps: number;
  /** (H*W) token ids; masked positions hold the mask id. */
  tokens: Uint32Array;
  /** (H*W) 1 where the token is still masked. */
  masked: Uint8Array;
  /** RGBA8, 128x128, row-major. */
  pixels: Uint8ClampedArray;
  msStep: number;
}

export interface PipelineRequest {
  prompt: string;
  negativePrompt?: string;
  seed: number;
  steps: number;
  guidance: number;
  tau?: number;
  temperature?: number;
}

export interface TextToImageLike {
  generate(req: PipelineRequest, onStep?: (s: StepInfo) => void | Promise<void>, signal?: AbortSignal): Promise<unknown>;
  dispose(): void;
}

export interface ModelSource {
  manifest: unknown;
  weights: WeightMap;
}

export interface ModelCode {
  loadWeights(manifest: unknown, shards: ArrayBuffer[]): WeightMap;
  createPipeline(engine: Engine, gen: ModelSource, vq: ModelSource): Promise<TextToImageLike>;
  isCancelled(e: unknown): boolean;
}

export class ModelCodeMissingError extends Error {
  constructor() {
    super('This build has no model pipeline yet (src/model/pipeline.ts): the weights are cached, but images cannot be generated.');
    this.name = 'ModelCodeMissingError';
  }
}

interface WeightsModule {
  loadWeights(manifest: unknown, shards: ArrayBuffer[]): WeightMap;
}
interface PipelineModule {
  TextToImage: { create(engine: Engine, gen: ModelSource, vq: ModelSource): Promise<TextToImageLike> | TextToImageLike };
  GenerationCancelledError?: new (...args: never[]) => Error;
}

const modules = import.meta.glob(['../model/weights.ts', '../model/pipeline.ts']);

let code: Promise<ModelCode> | null = null;

/** The model code, imported once. Rejects with ModelCodeMissingError while src/model has not landed. */
export function modelCode(): Promise<ModelCode> {
  code ??= (async () => {
    const w = modules['../model/weights.ts'];
    const p = modules['../model/pipeline.ts'];
    if (!w || !p) throw new ModelCodeMissingError();
    const weights = (await w()) as WeightsModule;
    const pipeline = (await p()) as PipelineModule;
    const Cancelled = pipeline.GenerationCancelledError;
    return {
      loadWeights: (m, s) => weights.loadWeights(m, s),
      createPipeline: async (engine, gen, vq) => pipeline.TextToImage.create(engine, gen, vq),
      isCancelled: (e) =>
        (Cancelled !== undefined && e instanceof Cancelled) ||
        (e instanceof Error && (e.name === 'GenerationCancelledError' || e.name === 'AbortError')),
    };
  })();
  code.catch(() => (code = null));
  return code;
}
