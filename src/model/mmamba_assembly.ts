// The one description of the M-Mamba generator (training/mmamba/mmamba.py), read by inference (mmamba.ts) and by
// the fine-tuning backward (finetune/mmamba_autodiff.ts): its sizes, its weight views and its forward pieces in model
// order — text encoder, per-layer modulation, embedding, layers (mixer sublayer, then the optional GEGLU FFN with
// its own adaLN), head:
//   h = [txt ; img_emb(tokens) (+ pos_emb)]                               (B, L, d), L = Lt + HW
//   per layer: mix = Linear(SiLU(c)) (B, 3d);  h = mixer(h, mix)          (mmamba_mixer.ts)
//              ffn = Linear'(SiLU(c)) (B, 3d); h = adaLN-FFN(h, ffn)      only with cfg.ffn (generator_blocks.ts)
//   logits = head(RMSNorm_w(h[:, Lt:]))                                    (B, HW, K)
// Weight views: in_proj (2di, d) is used as its x and z row blocks (di, d); the K-stacked x_proj / dt_proj (K, r, c)
// are tiled over the batch to (B·K, r, c) for the batched matmul. `overrides` replace base weights for one call (the
// LoRA trainer's W + s·B·A); overridden weights are split / tiled on the GPU, base ones once on the host.
import type { Engine } from '../engine/engine';
import type { ScanGrid } from '../engine/ops/cross_scan_geom';
import { add } from '../engine/ops/elementwise';
import { embedding } from '../engine/ops/embedding';
import { linear, matmul } from '../engine/ops/matmul';
import { concatRows, sliceRows } from '../engine/ops/model_glue';
import { rmsNorm } from '../engine/ops/norm';
import type { Tensor } from '../engine/tensor';
import { dtRank, GpuParams, requireNumbers, Scope, view, type MMambaConfig } from './common';
import type { Fusions } from './fusions';
import {
  adaLnFfnForward,
  adaLnFfnInfer,
  gegluWeights,
  headForward,
  type AdaLnFfnActs,
  type AdaLnFfnWeights,
} from './generator_blocks';
import {
  mixerForward,
  mixerInfer,
  type MixerActs,
  type MixerDims,
  type MixerWeights,
  type ScanKernel,
} from './mmamba_mixer';
import { mmambaParams } from './params';
import { TextEncoder } from './text_encoder';
import type { WeightMap } from './weights';

/** Sizes of an M-Mamba generator, worked out once from its config. */
export interface MMambaSizes extends MixerDims {
  S: number; //  R + 2N: columns of x_dbl (dt | B | C)
  Lt: number; // text tokens
  HW: number; // image tokens
  L: number; //  Lt + HW
}

export function mmambaSizes(c: MMambaConfig): MMambaSizes {
  const R = dtRank(c);
  const grid: ScanGrid = {
    textLen: c.text.max_len,
    grid: c.grid,
    directions: c.directions,
    textPosition: c.text_position,
  };
  const HW = c.grid * c.grid;
  return {
    d: c.d,
    di: c.expand * c.d,
    R,
    N: c.d_state,
    K: c.directions,
    S: R + 2 * c.d_state,
    Lt: c.text.max_len,
    HW,
    L: c.text.max_len + HW,
    grid,
  };
}

/** A layer's modulations (B, 3d) = [shift ; scale ; gate]: the mixer's, and the FFN's when cfg.ffn. */
export interface LayerMods {
  mix: Tensor;
  ffn: Tensor | null;
}

/** Every intermediate of one layer (in the scope passed to `layer`) and its output `out` (the caller owns it). */
export interface LayerActs {
  mixer: MixerActs; // mixer.out is the FFN's input (in the scope) when there is an FFN, else `out` itself
  ffn: AdaLnFfnActs | null;
  out: Tensor;
}

export class MMambaAssembly {
  readonly sizes: MMambaSizes;
  readonly text: TextEncoder;
  private readonly p: GpuParams;
  /** Base weights replaced for the current call (fine-tuning); empty for inference. */
  overrides: ReadonlyMap<string, Tensor> = new Map();

  constructor(
    private readonly e: Engine,
    readonly config: MMambaConfig,
    weights: WeightMap,
  ) {
    const c = config;
    requireNumbers(
      c as unknown as Record<string, unknown>,
      ['codebook_size', 'grid', 'd', 'layers', 'expand', 'd_state', 'd_conv', 'directions', 'cond_dim'],
      'mmamba',
    );
    this.sizes = mmambaSizes(c);
    this.text = new TextEncoder(e, c.text, c.d, c.cond_dim, weights);
    this.p = new GpuParams(e, weights);
    // Upload (shape-checked) every parameter; in_proj only as its two halves (the whole one on demand: `base`).
    for (const [name, shape] of mmambaParams(c)) {
      if (!name.endsWith('.in_proj.weight')) this.p.get(name, shape);
      else this.p.host(name, shape);
    }
    for (let i = 0; i < c.layers; i++) this.inProj(i, new Scope());
  }

  /** The uploaded base weight `name` (text.* from the text encoder), never an override. */
  base(name: string): Tensor {
    return name.startsWith('text.') ? this.text.weight(name.slice('text.'.length)) : this.p.get(name);
  }

  /** The weight used for `name` in this call: its override, else the base weight. */
  W(name: string): Tensor {
    return this.overrides.get(name) ?? this.base(name);
  }

  /** A read-only constant uploaded once under `key`. */
  constant(key: string, shape: number[], fill: (data: Float32Array) => void): Tensor {
    return this.p.derived(`#const:${key}`, () => {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      fill(data);
      return { shape, data };
    });
  }

  /** A zero tensor viewed with `shape` (never written). */
  zeros(shape: number[]): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    return view(
      this.constant(`zeros${n}`, [n], () => {}),
      shape,
    );
  }

  // ---- weight views ----------------------------------------------------------------------------------------

  /** in_proj (2di, d) of layer i as its x and z row blocks (di, d) each. */
  inProj(i: number, s: Scope): [Tensor, Tensor] {
    const { d, di } = this.sizes;
    const name = `layers.${i}.in_proj.weight`;
    const o = this.overrides.get(name);
    if (!o) {
      const host = () => this.p.host(name);
      return [
        this.p.derived(`${name}#x`, () => ({ shape: [di, d], data: host().slice(0, di * d) })),
        this.p.derived(`${name}#z`, () => ({ shape: [di, d], data: host().slice(di * d) })),
      ];
    }
    const w3 = view(o, [1, 2 * di, d]);
    return [view(s.t(sliceRows(this.e, w3, 0, di)), [di, d]), view(s.t(sliceRows(this.e, w3, di, di)), [di, d])];
  }

  /** A K-stacked weight (K, r, c) repeated over the batch → (B·K, r, c), for the batched matmul. */
  tiled(name: string, B: number, s: Scope): Tensor {
    const w = this.W(name);
    if (B === 1) return w;
    const [K, r, c] = w.shape as [number, number, number];
    if (!this.overrides.has(name))
      return this.p.derived(`${name}#x${B}`, () => {
        const h = this.p.host(name);
        const data = new Float32Array(h.length * B);
        for (let b = 0; b < B; b++) data.set(h, b * h.length);
        return { shape: [B * K, r, c], data };
      });
    return s.t(add(this.e, this.zeros([B * K, r, c]), w)); // w broadcast over the leading axis
  }

  mixerWeights(i: number, B: number, s: Scope): MixerWeights {
    const P = `layers.${i}.`;
    const W = (n: string) => this.W(P + n);
    const [inX, inZ] = this.inProj(i, s);
    return {
      inX,
      inZ,
      convW: W('conv_weight'),
      convB: W('conv_bias'),
      xProj: this.tiled(`${P}x_proj_weight`, B, s),
      dtProj: this.tiled(`${P}dt_proj_weight`, B, s),
      A_log: W('A_log'),
      D: W('D'),
      dtBias: W('dt_proj_bias'),
      outNormW: W('out_norm.weight'),
      outNormB: W('out_norm.bias'),
      outProj: W('out_proj.weight'),
    };
  }

  /** Layer i's FFN weights, or null without cfg.ffn. */
  ffnWeights(i: number): AdaLnFfnWeights | null {
    if (!this.config.ffn) return null;
    const W = (n: string) => this.W(`layers.${i}.ffn.${n}`);
    return { wIn: W('w_in.weight'), bIn: W('w_in.bias'), wOut: W('w_out.weight'), bOut: W('w_out.bias') };
  }

  // ---- forward pieces, in model order ----------------------------------------------------------------------

  /** sc = SiLU(c) (B, cond_dim) → every layer's modulations (the caller owns them). */
  modulations(sc: Tensor): LayerMods[] {
    const mods: LayerMods[] = [];
    for (let i = 0; i < this.config.layers; i++) {
      const W = (n: string) => this.W(`layers.${i}.${n}`);
      const mix = linear(this.e, sc, W('mod.proj.weight'), W('mod.proj.bias'), 'adaln');
      const ffn = this.config.ffn
        ? linear(this.e, sc, W('ffn_mod.proj.weight'), W('ffn_mod.proj.bias'), 'adaln_ffn')
        : null;
      mods.push({ mix, ffn });
    }
    return mods;
  }

  /** tokens u32 (B, HW), text tokens (B, Lt, d) → h0 (B, L, d); h0 and the intermediates go into the scope. */
  embed(tokens: Tensor, txt: Tensor, s: Scope): Tensor {
    let x = s.t(embedding(this.e, tokens, this.W('img_emb.weight'))); // (B, HW, d)
    if (this.config.pos_emb) x = s.t(add(this.e, x, this.W('pos_emb')));
    return s.t(concatRows(this.e, txt, x));
  }

  /** Layer i: h (B, L, d) → its intermediates (in `s`) and output (the caller's). */
  layer(i: number, h: Tensor, mods: LayerMods, s: Scope, scan: ScanKernel = 'fused'): LayerActs {
    const B = h.shape[0]!;
    const mixer = mixerForward(this.e, h, mods.mix, this.mixerWeights(i, B, s), this.sizes, s, scan);
    const fw = this.ffnWeights(i);
    if (!fw) return { mixer, ffn: null, out: mixer.out };
    const ffn = adaLnFfnForward(this.e, s.t(mixer.out), mods.ffn!, fw, s);
    return { mixer, ffn, out: ffn.out };
  }

  /** Layer i's output alone, for inference (no overrides), with the fusions switched on in `f`. */
  layerInfer(i: number, h: Tensor, mods: LayerMods, s: Scope, scan: ScanKernel, f: Fusions): Tensor {
    const B = h.shape[0]!;
    const mix = mixerInfer(this.e, h, mods.mix, this.mixerWeights(i, B, s), this.sizes, s, scan, f);
    const fw = this.ffnWeights(i);
    if (!fw) return mix;
    const gw = f.gegluEpilogue && this.overrides.size === 0 ? gegluWeights(this.p, `layers.${i}.ffn.`) : null;
    return adaLnFfnInfer(this.e, s.t(mix), mods.ffn!, fw, gw, f, s);
  }

  /** The logits alone, for inference; with f.headSlice the norm runs over all L rows of h and the head's matmul
   *  reads the image rows in place (the text rows' norm is wasted work, cheaper than a copy dispatch). */
  headInfer(h: Tensor, s: Scope, f: Fusions): Tensor {
    if (!f.headSlice) return this.head(h, s).logits;
    const { Lt, HW } = this.sizes;
    const hn = s.t(rmsNorm(this.e, h, { weight: this.W('head_norm.weight') })); // (B, L, d)
    return matmul(this.e, hn, this.W('head.weight'), {
      transB: true,
      bias: this.W('head.bias'),
      aRows: { start: Lt, count: HW },
      label: 'logits',
    });
  }

  /** The last layer's output (B, L, d) → its image rows hi, hn = RMSNorm_w(hi) (in the scope) and the logits. */
  head(h: Tensor, s: Scope): { hi: Tensor; hn: Tensor; logits: Tensor } {
    const hi = s.t(sliceRows(this.e, h, this.sizes.Lt, this.sizes.HW)); // (B, HW, d)
    const { hn, logits } = headForward(
      this.e,
      hi,
      { norm: this.W('head_norm.weight'), w: this.W('head.weight'), b: this.W('head.bias') },
      s,
    );
    return { hi, hn, logits };
  }

  dispose(): void {
    this.text.dispose();
    this.p.dispose();
  }
}
