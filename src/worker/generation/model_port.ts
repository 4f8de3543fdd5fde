// The worker's narrow view of the model code (src/model/weights.ts and src/model/pipeline.ts, owned by the
// model engineer): weight maps from verified shards, a TextToImage pipeline per (generator, VQ) pair, and how
// to recognise a cancelled generation. Keeping it in one place keeps worker.ts independent of model internals.
import type { Engine } from '../../engine/engine';
import { GenerationCancelledError, TextToImage, type GenerateStep } from '../../model/pipeline';
import { loadWeights, type Manifest, type WeightMap } from '../../model/weights';

export type StepInfo = GenerateStep;
export type TextToImageLike = Pick<TextToImage, 'generate' | 'decodePreview' | 'dispose'>;

export interface ModelSource {
  manifest: Manifest;
  weights: WeightMap;
}

export interface ModelCode {
  loadWeights(manifest: unknown, shards: ArrayBuffer[]): WeightMap;
  createPipeline(engine: Engine, gen: ModelSource, vq: ModelSource): Promise<TextToImageLike>;
  isCancelled(e: unknown): boolean;
}

const code: ModelCode = {
  // The store has checked sizes and sha256; loadWeights checks the manifest's tensor table against the shards.
  loadWeights: (manifest, shards) => loadWeights(manifest as Manifest, shards),
  createPipeline: async (engine, gen, vq) => TextToImage.create(engine, gen, vq),
  isCancelled: (e) =>
    e instanceof GenerationCancelledError || (e instanceof Error && e.name === 'GenerationCancelledError'),
};

/** The model code (async so a later build may split it into its own chunk). */
export async function modelCode(): Promise<ModelCode> {
  return code;
}
