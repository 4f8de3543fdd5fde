// Text encoder on the engine, as training/mmamba/text_encoder.py: token embedding + learned positions, pre-LN
// transformer blocks (self-attention with the padding mask, GELU-tanh MLP), final LayerNorm; outputs the token
// vectors projected to the generator width d, the pooled vector c = pool_proj(masked mean), and the key mask.
// A model trained with a frozen word prior arrives as its effective table (export.py bake_prior: tok_emb.weight is
// (vocab_size, w), the known words' rows included, and the config says prior_words = 0), so every id is a row gather;
// a manifest that still names an unbaked prior (prior_words > 0) is refused.
import type { Engine } from '../engine/engine';
import { selfAttentionPacked } from '../engine/ops/attention';
import { add, gelu } from '../engine/ops/elementwise';
import { embedding } from '../engine/ops/embedding';
import { linear } from '../engine/ops/matmul';
import { maskedMean } from '../engine/ops/model_glue';
import { layerNorm } from '../engine/ops/norm';
import { ShapeError, WeightIntegrityError } from '../engine/errors';
import type { Tensor } from '../engine/tensor';
import { GpuParams, requireNumbers, Scope, type TextConfig } from './common';
import { textParams } from './params';
import type { WeightMap } from './weights';

export interface TextOutput {
  tokens: Tensor; //  (B, Lt, d)
  c: Tensor; //       (B, cond_dim)
  keyMask: Tensor; // u32 (B, Lt), 1 = non-pad
}

export interface TrunkOptions {
  weight?: (fullName: string) => Tensor | undefined;
  layerInputs?: Tensor[];
}

/** Every intermediate of one pre-LN block, in forward order (all registered in `s`, `out` included). */
export interface TextLayerActs {
  n1: Tensor; //   LayerNorm1(x)                         (B, Lt, w)
  qkv: Tensor; //  n1·W_qkv^T + b                         (B, Lt, 3w)
  att: Tensor; //  attention(qkv, key mask)               (B, Lt, w)
  x1: Tensor; //   x + att·W_out^T + b                    (B, Lt, w)
  n2: Tensor; //   LayerNorm2(x1)                         (B, Lt, w)
  pre: Tensor; //  n2·W_0^T + b                           (B, Lt, f·w)
  hid: Tensor; //  GELU-tanh(pre)                         (B, Lt, f·w)
  out: Tensor; //  x1 + hid·W_2^T + b                     (B, Lt, w)
}

/** One text block, x + attn(LN1(x)), then + MLP(LN2(·)) (training/mmamba/text_encoder.py TextBlock); `W` maps a
 *  name inside the block (e.g. 'attn.qkv.weight') to its weight. Shared by inference and the fine-tuning backward. */
export function textLayerForward(
  e: Engine,
  x: Tensor,
  keyMask: Tensor,
  W: (name: string) => Tensor,
  heads: number,
  s: Scope,
): TextLayerActs {
  const n1 = s.t(layerNorm(e, x, { weight: W('norm1.weight'), bias: W('norm1.bias') }));
  const qkv = s.t(linear(e, n1, W('attn.qkv.weight'), W('attn.qkv.bias')));
  const att = s.t(selfAttentionPacked(e, qkv, heads, { mask: keyMask }));
  const x1 = s.t(add(e, x, s.t(linear(e, att, W('attn.out.weight'), W('attn.out.bias')))));
  const n2 = s.t(layerNorm(e, x1, { weight: W('norm2.weight'), bias: W('norm2.bias') }));
  const pre = s.t(linear(e, n2, W('mlp.0.weight'), W('mlp.0.bias')));
  const hid = s.t(gelu(e, pre));
  const out = s.t(add(e, x1, s.t(linear(e, hid, W('mlp.2.weight'), W('mlp.2.bias')))));
  return { n1, qkv, att, x1, n2, pre, hid, out };
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
    requireNumbers(
      cfg as unknown as Record<string, unknown>,
      ['vocab_size', 'max_len', 'width', 'layers', 'heads', 'ffn_mult', 'pad_id'],
      'text',
    );
    const priorWords = (cfg as unknown as Record<string, unknown>).prior_words;
    if (priorWords !== undefined && priorWords !== 0)
      throw new WeightIntegrityError(
        `text encoder: the manifest needs a word-vector table (prior_words ${String(priorWords)}); re-export it with training/mmamba/export.py, which bakes the table in`,
      );
    this.p = new GpuParams(e, weights);
    for (const [name, shape] of textParams(cfg, d, condDim, prefix)) this.p.get(name, shape);
  }

  /** ids (B, Lt) on the CPU (padded to max_len) → token vectors, pooled c and the key mask. */
  forward(ids: ArrayLike<number>, B: number): TextOutput {
    const { final, pooled, keyMask } = this.trunk(ids, B);
    const { tokens, c } = this.project(final, pooled);
    final.dispose();
    pooled.dispose();
    return { tokens, c, keyMask };
  }

  /** The two output projections: final (B, Lt, w) → token vectors (B, Lt, d), pooled (B, w) → c (B, cond_dim)
   *  (the caller owns both); `override` as in `trunk`. */
  project(
    final: Tensor,
    pooled: Tensor,
    override?: (fullName: string) => Tensor | undefined,
  ): { tokens: Tensor; c: Tensor } {
    const W = (n: string) => this.weight(n, override);
    const tokens = linear(this.e, final, W('proj.weight'), W('proj.bias'), 'text_tokens');
    const c = linear(this.e, pooled, W('pool_proj.weight'), W('pool_proj.bias'), 'text_c');
    return { tokens, c };
  }

  /** Everything before the two output projections: the final LayerNorm output (B, Lt, w), its masked mean (B, w)
   *  and the key mask (the caller disposes all three). Fine-tuning passes `opts.weight` (a full parameter name →
   *  its adapted weight, or undefined for the base one) and `opts.layerInputs`, which receives each layer's input
   *  and the final LayerNorm's input (layers + 1 tensors, owned by the caller) for the backward's recompute. */
  trunk(
    ids: ArrayLike<number>,
    B: number,
    opts: TrunkOptions = {},
  ): { final: Tensor; pooled: Tensor; keyMask: Tensor } {
    const e = this.e;
    const Lt = this.cfg.max_len;
    if (ids.length !== B * Lt) throw new ShapeError(`text encoder: ${ids.length} ids for B=${B}, max_len=${Lt}`);
    for (let i = 0; i < ids.length; i++)
      if (!(ids[i]! >= 0 && ids[i]! < this.cfg.vocab_size))
        throw new ShapeError(`text encoder: id ${ids[i]} out of the vocabulary (${this.cfg.vocab_size})`);
    const s = new Scope();
    const W = (n: string) => this.weight(n, opts.weight);
    const keepInput = (t: Tensor) => (opts.layerInputs ? (opts.layerInputs.push(t), t) : s.t(t));
    const tIds = s.t(e.fromArray([B, Lt], Uint32Array.from(ids), 'u32', 'text_ids'));
    const keyMask = e.fromArray(
      [B, Lt],
      Uint32Array.from(ids, (v) => (v !== this.cfg.pad_id ? 1 : 0)),
      'u32',
      'key_mask',
    );
    let x = keepInput(add(e, s.t(embedding(e, tIds, W('tok_emb.weight'))), W('pos_emb'))); // (B, Lt, w)
    for (let i = 0; i < this.cfg.layers; i++) {
      const ls = new Scope();
      const a = textLayerForward(e, x, keyMask, (n) => W(`layers.${i}.${n}`), this.cfg.heads, ls);
      ls.dispose([a.out]);
      x = keepInput(a.out);
    }
    const final = layerNorm(e, x, { weight: W('norm.weight'), bias: W('norm.bias') }); // (B, Lt, w)
    const pooled = maskedMean(e, final, keyMask); //                                       (B, w)
    s.dispose();
    return { final, pooled, keyMask };
  }

  /** The weight `name` (without the text prefix): the override for its full name when there is one, else the base. */
  weight(name: string, override?: (fullName: string) => Tensor | undefined): Tensor {
    return override?.(this.prefix + name) ?? this.p.get(this.prefix + name);
  }

  dispose(): void {
    this.p.dispose();
  }
}
