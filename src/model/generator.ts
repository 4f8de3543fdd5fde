// What the sampler needs from a masked-token generator (M-Mamba or UViT): encode the text once per generation
// (everything that depends only on the text — token vectors, c, the per-layer adaLN modulations, cross-attention
// keys/values — is computed here and reused at every MaskGIT step), then logits for a batch of token grids.
import type { Tensor } from '../engine/tensor';
import type { TextConfig } from './common';

export interface GeneratorConfig {
  text: TextConfig;
  codebook_size: number;
  grid: number;
  d: number;
  layers: number;
  cond_dim: number;
}

/** Text-side state of one batch; dispose() frees its GPU tensors. */
export interface TextCondition {
  readonly batch: number;
  readonly tokens: Tensor; // (B, Lt, d)
  readonly c: Tensor; //      (B, cond_dim)
  dispose(): void;
}

export interface Generator {
  readonly kind: 'mmamba' | 'uvit';
  readonly config: GeneratorConfig;
  /** ids (B, Lt) on the CPU, padded to text.max_len. */
  encodeText(ids: ArrayLike<number>, B: number): TextCondition;
  /** tokens u32 (B, HW) in [0, codebook_size] (codebook_size = [MASK]) → logits (B, HW, codebook_size).
   *  With `stages`, the per-stage activations (embed, layer{i}) are kept and added to it (the caller disposes). */
  logits(tokens: Tensor, cond: TextCondition, stages?: Map<string, Tensor>): Tensor;
  dispose(): void;
}
