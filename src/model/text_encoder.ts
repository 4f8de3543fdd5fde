// Text encoder on the engine, as training/mmamba/text_encoder.py: token embedding + learned positions, pre-LN
// transformer blocks (self-attention with the padding mask, GELU-tanh MLP), final LayerNorm; outputs the token
// vectors projected to the generator width d, the pooled vector c = pool_proj(masked mean), and the key mask.
import type { Engine } from '../engine/engine';
import { selfAttentionPacked } from '../engine/ops/attention';
import { add, gelu } from '../engine/ops/elementwise';
import { embedding } from '../engine/ops/embedding';
import { linear } from '../engine/ops/matmul';
import { maskedMean } from '../engine/ops/model_glue';
import { layerNorm } from '../engine/ops/norm';
import { ShapeError } from '../engine/errors';
import type { Tensor } from '../engine/tensor';
import { GpuParams, requireNumbers, Scope, type TextConfig } from './common';
import { textParams } from './params';
import type { WeightMap } from './weights';

export interface TextOutput {
  tokens: Tensor; //  (B, Lt, d)
  c: Tensor; //       (B, cond_dim)
  keyMask: Tensor; // u32 (B, Lt), 1 = non-pad
}

export class TextEncoder {
  private readonly p: GpuParams;

  constructor(
    private readonly e: Engine,
    readonly cfg: TextConfig,
    readonly d: number,
    readonly condDim: number,
    weights: WeightMap,
    private readonly prefix = 'text.',
  ) {
    requireNumbers(cfg as unknown as Record<string, unknown>, ['vocab_size', 'max_len', 'width', 'layers', 'heads', 'ffn_mult', 'pad_id'], 'text');
    this.p = new GpuParams(e, weights);
    for (const [name, shape] of textParams(cfg, d, condDim, prefix)) this.p.get(name, shape);
  }

  /** ids (B, Lt) on the CPU (padded to max_len) → token vectors, pooled c and the key mask. */
  forward(ids: ArrayLike<number>, B: number): TextOutput {
    const e = this.e;
    const W = (n: string) => this.p.get(this.prefix + n);
    const { final, pooled, keyMask } = this.trunk(ids, B);
    const tokens = linear(e, final, W('proj.weight'), W('proj.bias'), 'text_tokens'); //     (B, Lt, d)
    const c = linear(e, pooled, W('pool_proj.weight'), W('pool_proj.bias'), 'text_c'); //  (B, cond_dim)
    final.dispose();
    pooled.dispose();
    return { tokens, c, keyMask };
  }

  /** Everything before the two output projections: the final LayerNorm output (B, Lt, w), its masked mean (B, w)
   *  and the key mask. The LoRA fine-tuner applies (adapted) proj / pool_proj itself; the caller disposes all three. */
  trunk(ids: ArrayLike<number>, B: number): { final: Tensor; pooled: Tensor; keyMask: Tensor } {
    const e = this.e;
    const Lt = this.cfg.max_len;
    if (ids.length !== B * Lt) throw new ShapeError(`text encoder: ${ids.length} ids for B=${B}, max_len=${Lt}`);
    for (let i = 0; i < ids.length; i++)
      if (!(ids[i]! >= 0 && ids[i]! < this.cfg.vocab_size)) throw new ShapeError(`text encoder: id ${ids[i]} out of the vocabulary (${this.cfg.vocab_size})`);
    const s = new Scope();
    const W = (n: string) => this.p.get(this.prefix + n);
    const tIds = s.t(e.fromArray([B, Lt], Uint32Array.from(ids), 'u32', 'text_ids'));
    const keyMask = e.fromArray([B, Lt], Uint32Array.from(ids, (v) => (v !== this.cfg.pad_id ? 1 : 0)), 'u32', 'key_mask');
    let x = s.t(add(e, s.t(embedding(e, tIds, W('tok_emb.weight'))), W('pos_emb'))); // (B, Lt, w)
    for (let i = 0; i < this.cfg.layers; i++) {
      const L = (n: string) => W(`layers.${i}.${n}`);
      const n1 = s.t(layerNorm(e, x, { weight: L('norm1.weight'), bias: L('norm1.bias') }));
      const qkv = s.t(linear(e, n1, L('attn.qkv.weight'), L('attn.qkv.bias'))); //   (B, Lt, 3w)
      const att = s.t(selfAttentionPacked(e, qkv, this.cfg.heads, { mask: keyMask })); // (B, Lt, w)
      x = s.t(add(e, x, s.t(linear(e, att, L('attn.out.weight'), L('attn.out.bias')))));
      const n2 = s.t(layerNorm(e, x, { weight: L('norm2.weight'), bias: L('norm2.bias') }));
      const hid = s.t(gelu(e, s.t(linear(e, n2, L('mlp.0.weight'), L('mlp.0.bias'))))); // (B, Lt, f·w)
      x = s.t(add(e, x, s.t(linear(e, hid, L('mlp.2.weight'), L('mlp.2.bias')))));
    }
    const final = layerNorm(e, x, { weight: W('norm.weight'), bias: W('norm.bias') }); // (B, Lt, w)
    const pooled = maskedMean(e, final, keyMask); //                                       (B, w)
    s.dispose();
    return { final, pooled, keyMask };
  }

  dispose(): void {
    this.p.dispose();
  }
}
