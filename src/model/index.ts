// Public surface of the model layer (DOM-free; the worker and the Node benchmarks import from here or from the
// individual files): weights loading, the tokenizer, the model classes, the sampler and the TextToImage pipeline.
export { parseSafetensors, parseSafetensorsHeader, f16ToF32 } from './safetensors';
export {
  loadWeights,
  checkManifest,
  getWeight,
  type Manifest,
  type ManifestTensor,
  type WeightMap,
  type HostTensor,
} from './weights';
export { BPETokenizer, type TokenizerSpec } from './bpe';
export type { MMambaConfig, UViTConfig, VQConfig, TextConfig } from './common';
export { generatorParams, vqDecoderParams, vqEncoderParams } from './params';
export { TextEncoder } from './text_encoder';
export { MMamba } from './mmamba';
export { UViT } from './uvit';
export type { Generator, TextCondition } from './generator';
export { VQDecoder, toRGBA } from './vq_decoder';
export { VQEncoder } from './vq_encoder';
export { maskgitSample, type SampleRequest, type SamplerStep } from './sampler';
export {
  TextToImage,
  DEFAULT_PREVIEW_EVERY_MS,
  type GenerateRequest,
  type GenerateStep,
  type GenerateResult,
  type LoadedModel,
} from './pipeline';
export { GenerationCancelledError, InvalidRequestError } from './errors';
