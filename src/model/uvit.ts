// UViT baseline generator on the engine, as training/mmamba/uvit.py (aMUSEd-style block on image tokens only):
//   h = img_emb(tokens) + pos_emb                                              (B, HW, d)
//   per layer: h += gate1 · SelfAttn(RMSNorm(h)·(1 + scale1) + shift1)         adaLN-Zero (attn_mod)
//              h += CrossAttn(RMSNorm_w(h), text tokens, key padding mask)     plain pre-norm
//              h += gate2 · GEGLU(RMSNorm(h)·(1 + scale2) + shift2)            adaLN-Zero (ffn_mod)
//   logits = head(RMSNorm_w(h))                                                (B, HW, K)
// The adaLN outputs and the cross-attention keys/values depend only on the text: computed once per generation.
// The FFN sublayer and the head are M-Mamba's (generator_blocks.ts).
import type { Engine } from '../engine/engine';
import { crossAttentionPacked, selfAttentionPacked } from '../engine/ops/attention';
import { add, silu } from '../engine/ops/elementwise';
import { embedding } from '../engine/ops/embedding';
import { linear, linearGatedResidual } from '../engine/ops/matmul';
import { gatedResidual } from '../engine/ops/model_glue';
import { rmsNorm } from '../engine/ops/norm';
import { ShapeError } from '../engine/errors';
import type { Tensor } from '../engine/tensor';
import { GpuParams, requireNumbers, Scope, type UViTConfig } from './common';
import { defaultFusions, type Fusions } from './fusions';
import { adaLnFfnInfer, gegluWeights, headForward } from './generator_blocks';
import type { Generator, TextCondition } from './generator';
import { TextEncoder } from './text_encoder';
import { uvitParams } from './params';
import type { WeightMap } from './weights';

interface LayerCond {
  attn: Tensor; // (B, 3d) attn_mod
  ffn: Tensor; //  (B, 3d) ffn_mod
  kv: Tensor; //   (B, Lt, 2d) cross.kv(text tokens)
}

class UViTCondition implements TextCondition {
  constructor(
    readonly batch: number,
    readonly tokens: Tensor,
    readonly c: Tensor,
    readonly keyMask: Tensor,
    readonly layers: LayerCond[],
  ) {}
  dispose(): void {
    for (const t of [this.tokens, this.c, this.keyMask, ...this.layers.flatMap((l) => [l.attn, l.ffn, l.kv])])
      t.dispose();
  }
}

export class UViT implements Generator {
  readonly kind = 'uvit' as const;
  /** Inference fusions (fusions.ts); all on by default, switched off one at a time by the latency benchmark. */
  fusions: Fusions = defaultFusions();
  readonly text: TextEncoder;
  private readonly p: GpuParams;

  constructor(
    private readonly e: Engine,
    readonly config: UViTConfig,
    weights: WeightMap,
  ) {
    const c = config;
    requireNumbers(
      c as unknown as Record<string, unknown>,
      ['codebook_size', 'grid', 'd', 'layers', 'heads', 'ffn_mult', 'cond_dim'],
      'uvit',
    );
    if (c.d % c.heads) throw new ShapeError(`uvit: d=${c.d} is not divisible by heads=${c.heads}`);
    this.text = new TextEncoder(e, c.text, c.d, c.cond_dim, weights);
    this.p = new GpuParams(e, weights);
    for (const [name, shape] of uvitParams(c)) this.p.get(name, shape);
  }

  encodeText(ids: ArrayLike<number>, B: number): TextCondition {
    const e = this.e;
    const t = this.text.forward(ids, B);
    const sc = silu(e, t.c); // (B, cond_dim)
    const layers: LayerCond[] = [];
    for (let i = 0; i < this.config.layers; i++) {
      const W = (n: string) => this.p.get(`layers.${i}.${n}`);
      layers.push({
        attn: linear(e, sc, W('attn_mod.proj.weight'), W('attn_mod.proj.bias'), 'adaln_attn'),
        ffn: linear(e, sc, W('ffn_mod.proj.weight'), W('ffn_mod.proj.bias'), 'adaln_ffn'),
        kv: linear(e, t.tokens, W('cross.kv.weight'), W('cross.kv.bias'), 'cross_kv'),
      });
    }
    sc.dispose();
    return new UViTCondition(B, t.tokens, t.c, t.keyMask, layers);
  }

  logits(tokens: Tensor, cond: TextCondition, stages?: Map<string, Tensor>): Tensor {
    const e = this.e;
    const c = this.config;
    const cnd = cond as UViTCondition;
    const HW = c.grid * c.grid;
    const B = cnd.batch;
    if (tokens.dtype !== 'u32' || tokens.shape.join() !== [B, HW].join())
      throw new ShapeError(`uvit: tokens ${tokens} must be u32 (B=${B}, HW=${HW})`);
    const keep: Tensor[] = [];
    const s = new Scope();
    let h = s.t(add(e, s.t(embedding(e, tokens, this.p.get('img_emb.weight'))), this.p.get('pos_emb'))); // (B, HW, d)
    if (stages) stages.set('embed', h), keep.push(h);
    for (let i = 0; i < c.layers; i++) {
      h = s.t(this.layer(i, h, cnd.layers[i]!, cnd.keyMask));
      if (stages) stages.set(`layer${i}`, h), keep.push(h);
    }
    const head = { norm: this.p.get('head_norm.weight'), w: this.p.get('head.weight'), b: this.p.get('head.bias') };
    const out = headForward(e, h, head, s).logits; //                                          (B, HW, K)
    s.dispose(keep);
    return out;
  }

  private layer(i: number, h: Tensor, lc: LayerCond, keyMask: Tensor): Tensor {
    const e = this.e;
    const { d, heads } = this.config;
    const W = (n: string) => this.p.get(`layers.${i}.${n}`);
    const s = new Scope();
    const mod = (m: Tensor) => ({ shift: { tensor: m, offset: 0 }, scale: { tensor: m, offset: d } });
    const n1 = s.t(rmsNorm(e, h, mod(lc.attn))); //                                          (B, HW, d)
    const qkv = s.t(linear(e, n1, W('attn.qkv.weight'), W('attn.qkv.bias'))); //             (B, HW, 3d)
    const att = s.t(selfAttentionPacked(e, qkv, heads)); //                                  (B, HW, d)
    const f = this.fusions;
    const gate = { tensor: lc.attn, offset: 2 * d };
    const h1 = s.t(
      f.outResidual
        ? linearGatedResidual(e, att, W('attn.out.weight'), W('attn.out.bias'), h, gate, { label: 'attn_out_residual' })
        : gatedResidual(e, h, gate, s.t(linear(e, att, W('attn.out.weight'), W('attn.out.bias')))),
    );
    const cn = s.t(rmsNorm(e, h1, { weight: W('cross_norm.weight') }));
    const q = s.t(linear(e, cn, W('cross.q.weight'), W('cross.q.bias'))); //                  (B, HW, d)
    const ca = s.t(crossAttentionPacked(e, q, lc.kv, heads, { mask: keyMask })); //           (B, HW, d)
    // the plain residual as a gated one with a gate of ones
    const ones = { tensor: this.ones(h.shape[0]!, d), offset: 0 };
    const h2 = s.t(
      f.outResidual
        ? linearGatedResidual(e, ca, W('cross.out.weight'), W('cross.out.bias'), h1, ones, {
            label: 'cross_out_residual',
          })
        : add(e, h1, s.t(linear(e, ca, W('cross.out.weight'), W('cross.out.bias')))),
    );
    const ffn = {
      wIn: W('ffn.w_in.weight'),
      bIn: W('ffn.w_in.bias'),
      wOut: W('ffn.w_out.weight'),
      bOut: W('ffn.w_out.bias'),
    };
    const gw = f.gegluEpilogue ? gegluWeights(this.p, `layers.${i}.ffn.`) : null;
    const out = adaLnFfnInfer(e, h2, lc.ffn, ffn, gw, f, s); //                                 (B, HW, d)
    s.dispose();
    return out;
  }

  /** A (B, d) tensor of ones, uploaded once per batch size. */
  private ones(B: number, d: number): Tensor {
    return this.p.derived(`#ones${B}x${d}`, () => ({ shape: [B, d], data: new Float32Array(B * d).fill(1) }));
  }

  dispose(): void {
    this.text.dispose();
    this.p.dispose();
  }
}
