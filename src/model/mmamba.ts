// M-Mamba generator on the engine, as training/mmamba/mmamba.py (see its docstring for the layer and the
// parameter layout). The mixer runs the fused cross-scan path of docs/kernels-ssm-vq.md — nothing is permuted in
// memory: causalConv1dCrossScan gathers each direction's scan order inside the conv, x_proj / dt_proj are per-token
// matmuls batched over (b, k), and selectiveScanFused walks the scan orders by index and merges the directions.
//   h = [txt ; img]                                       (B, L, d), L = Lt + HW
//   per layer: mod = Linear(SiLU(c)) (B, 3d) = [shift ; scale ; gate]   (once per generation, TextCondition)
//     u = RMSNorm(h)·(1 + scale) + shift;  x = u·W_x^T, z = u·W_z^T     (B, L, di)   (in_proj split by rows)
//     xs = SiLU(conv_k(x))                                             (B, K, L, di) token order
//     x_dbl = xs·x_proj[k]^T (B·K, L, R+2N);  dt = x_dbl[:, :, :R]·dt_proj[k]^T (B·K, L, di)
//     y = Σ_k P_k⁻¹ scan_k(...)                                        (B, L, di)
//     h = h + gate · (LayerNorm(y)·SiLU(z))·W_out^T;  optional GEGLU FFN with its own adaLN
//   logits = head(RMSNorm_w(h[:, Lt:]))                                 (B, HW, K)
import type { Engine } from '../engine/engine';
import type { ScanGrid } from '../engine/ops/cross_scan_geom';
import { add, silu } from '../engine/ops/elementwise';
import { embedding } from '../engine/ops/embedding';
import { geglu } from '../engine/ops/geglu';
import { linear } from '../engine/ops/matmul';
import { concatRows, gatedResidual, sliceRows } from '../engine/ops/model_glue';
import { rmsNorm } from '../engine/ops/norm';
import { ShapeError } from '../engine/errors';
import type { Tensor } from '../engine/tensor';
import { dtRank, GpuParams, requireNumbers, Scope, type MMambaConfig } from './common';
import type { Generator, TextCondition } from './generator';
import { TextEncoder } from './text_encoder';
import { mixerForward, type MixerDims, type MixerWeights, type ScanKernel } from './mmamba_mixer';
import { mmambaParams } from './params';
import type { WeightMap } from './weights';

class MMambaCondition implements TextCondition {
  constructor(
    readonly batch: number,
    readonly tokens: Tensor,
    readonly c: Tensor,
    readonly keyMask: Tensor,
    /** Per layer: adaLN output (B, 3d), and the FFN's (B, 3d) when cfg.ffn. */
    readonly mods: Array<{ mix: Tensor; ffn: Tensor | null }>,
  ) {}
  dispose(): void {
    for (const t of [this.tokens, this.c, this.keyMask, ...this.mods.flatMap((m) => (m.ffn ? [m.mix, m.ffn] : [m.mix]))]) t.dispose();
  }
}

export class MMamba implements Generator {
  readonly kind = 'mmamba' as const;
  readonly text: TextEncoder;
  private readonly p: GpuParams;
  private readonly grid: ScanGrid;
  private readonly di: number;
  private readonly R: number;
  private readonly N: number;
  private readonly K: number;
  /** The mixers' scan kernel: 'fused' (default) or 'chunked' (a candidate; bench/generate --scan chunked). */
  scanKernel: ScanKernel = 'fused';

  constructor(
    private readonly e: Engine,
    readonly config: MMambaConfig,
    weights: WeightMap,
  ) {
    const c = config;
    requireNumbers(c as unknown as Record<string, unknown>, ['codebook_size', 'grid', 'd', 'layers', 'expand', 'd_state', 'd_conv', 'directions', 'cond_dim'], 'mmamba');
    this.text = new TextEncoder(e, c.text, c.d, c.cond_dim, weights);
    this.p = new GpuParams(e, weights);
    const { d } = c;
    const di = (this.di = c.expand * d);
    this.R = dtRank(c);
    this.N = c.d_state;
    this.K = c.directions;
    this.grid = { textLen: c.text.max_len, grid: c.grid, directions: c.directions, textPosition: c.text_position };
    for (const [name, shape] of mmambaParams(c)) {
      if (!name.endsWith('.in_proj.weight')) {
        this.p.get(name, shape);
        continue;
      }
      // in_proj (2di, d): rows [0, di) → x, [di, 2di) → z, uploaded as two weights so x and z come out dense
      const inW = this.p.host(name, shape);
      const P = name.slice(0, -'weight'.length);
      this.p.derived(P + 'x', () => ({ shape: [di, d], data: inW.slice(0, di * d) }));
      this.p.derived(P + 'z', () => ({ shape: [di, d], data: inW.slice(di * d) }));
    }
  }

  encodeText(ids: ArrayLike<number>, B: number): TextCondition {
    const e = this.e;
    const t = this.text.forward(ids, B);
    const sc = silu(e, t.c); // (B, cond_dim)
    const mods = [];
    for (let i = 0; i < this.config.layers; i++) {
      const W = (n: string) => this.p.get(`layers.${i}.${n}`);
      const mix = linear(e, sc, W('mod.proj.weight'), W('mod.proj.bias'), 'adaln'); // (B, 3d)
      const ffn = this.config.ffn ? linear(e, sc, W('ffn_mod.proj.weight'), W('ffn_mod.proj.bias'), 'adaln_ffn') : null;
      mods.push({ mix, ffn });
    }
    sc.dispose();
    return new MMambaCondition(B, t.tokens, t.c, t.keyMask, mods);
  }

  private get dims(): MixerDims {
    return { d: this.config.d, di: this.di, R: this.R, N: this.N, K: this.K, grid: this.grid };
  }

  private mixerWeights(i: number, B: number): MixerWeights {
    const W = (n: string) => this.p.get(`layers.${i}.${n}`);
    return {
      inX: W('in_proj.x'), inZ: W('in_proj.z'), convW: W('conv_weight'), convB: W('conv_bias'),
      xProj: this.tiled(`layers.${i}.x_proj_weight`, B), dtProj: this.tiled(`layers.${i}.dt_proj_weight`, B),
      A_log: W('A_log'), D: W('D'), dtBias: W('dt_proj_bias'),
      outNormW: W('out_norm.weight'), outNormB: W('out_norm.bias'), outProj: W('out_proj.weight'),
    };
  }

  /** A K-stacked per-direction weight (K, r, c) repeated over the batch → (B·K, r, c), for the batched matmul. */
  private tiled(name: string, B: number): Tensor {
    if (B === 1) return this.p.get(name);
    return this.p.derived(`${name}#x${B}`, () => {
      const w = this.p.host(name);
      const shape = this.p.get(name).shape as number[];
      const data = new Float32Array(w.length * B);
      for (let b = 0; b < B; b++) data.set(w, b * w.length);
      return { shape: [B * shape[0]!, shape[1]!, shape[2]!], data };
    });
  }

  logits(tokens: Tensor, cond: TextCondition, stages?: Map<string, Tensor>): Tensor {
    const e = this.e;
    const c = this.config;
    const cnd = cond as MMambaCondition;
    const HW = c.grid * c.grid;
    const Lt = c.text.max_len;
    const B = cnd.batch;
    if (tokens.dtype !== 'u32' || tokens.shape.join() !== [B, HW].join())
      throw new ShapeError(`mmamba: tokens ${tokens} must be u32 (B=${B}, HW=${HW})`);
    const keep: Tensor[] = [];
    const s = new Scope();
    let x = s.t(embedding(e, tokens, this.p.get('img_emb.weight'))); // (B, HW, d)
    if (c.pos_emb) x = s.t(add(e, x, this.p.get('pos_emb')));
    let h = s.t(concatRows(e, cnd.tokens, x)); //                       (B, L, d)
    if (stages) stages.set('embed', h), keep.push(h);
    for (let i = 0; i < c.layers; i++) {
      h = s.t(this.layer(i, h, cnd.mods[i]!, B));
      if (stages) stages.set(`layer${i}`, h), keep.push(h);
    }
    const hi = s.t(sliceRows(e, h, Lt, HW)); //                         (B, HW, d)
    const hn = s.t(rmsNorm(e, hi, { weight: this.p.get('head_norm.weight') }));
    const out = linear(e, hn, this.p.get('head.weight'), this.p.get('head.bias'), 'logits'); // (B, HW, K)
    s.dispose(keep);
    return out;
  }

  private layer(i: number, h: Tensor, mod: { mix: Tensor; ffn: Tensor | null }, B: number): Tensor {
    const e = this.e;
    const { d } = this.config;
    const W = (n: string) => this.p.get(`layers.${i}.${n}`);
    const s = new Scope();
    let out = mixerForward(e, h, mod.mix, this.mixerWeights(i, B), this.dims, s, this.scanKernel).out; // (B, L, d)
    if (mod.ffn) {
      const f = mod.ffn;
      const fu = s.t(rmsNorm(e, out, { shift: { tensor: f, offset: 0 }, scale: { tensor: f, offset: d } }));
      const hid = s.t(geglu(e, s.t(linear(e, fu, W('ffn.w_in.weight'), W('ffn.w_in.bias')))));
      const fo = s.t(linear(e, hid, W('ffn.w_out.weight'), W('ffn.w_out.bias')));
      const prev = out;
      out = gatedResidual(e, prev, { tensor: f, offset: 2 * d }, fo);
      prev.dispose();
    }
    s.dispose();
    return out;
  }

  dispose(): void {
    this.text.dispose();
    this.p.dispose();
  }
}
