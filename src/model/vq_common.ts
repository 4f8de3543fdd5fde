// The VQ tokenizer's shared pieces on the engine (training/mmamba/vq.py): config checks, the l2-normalised
// codebook (ViT-VQGAN factorised lookup: codes = normalize(codebook rows)), and the ResNet block
// GN → SiLU → conv3×3 → GN → SiLU → conv3×3 (+ 1×1 skip when widths differ). Activations NCHW.
// The VQ decoder's inference fusions (src/model/fusions.ts: vqNormConv, vqConvRows2, vqStats1Pass, vqSmallTiles)
// are ConvFusions here; the encoder calls without them.
import type { Engine } from '../engine/engine';
import { conv2d } from '../engine/ops/conv2d';
import { add } from '../engine/ops/elementwise';
import { groupNorm, groupNormStats } from '../engine/ops/groupnorm';
import type { Tensor } from '../engine/tensor';
import { GpuParams, requireNumbers, Scope, type VQConfig } from './common';
import type { ParamTable } from './params';
import { getWeight, type WeightMap } from './weights';

export function checkVQConfig(c: VQConfig): { chs: number[]; grid: number } {
  requireNumbers(
    c as unknown as Record<string, unknown>,
    [
      'image_size',
      'in_channels',
      'ch',
      'enc_res_blocks',
      'dec_res_blocks',
      'mid_blocks',
      'norm_groups',
      'codebook_size',
      'code_dim',
      'gn_eps',
    ],
    'vq',
  );
  const chs = c.ch_mult.map((m) => c.ch * m);
  return { chs, grid: c.image_size / 2 ** (c.ch_mult.length - 1) };
}

/** (K, D) codebook rows l2-normalised (F.normalize, eps 1e-12), host copy. */
export function normalisedCodes(c: VQConfig, w: WeightMap): Float32Array {
  const raw = getWeight(w, 'quant.codebook', [c.codebook_size, c.code_dim]).data;
  const D = c.code_dim;
  const out = new Float32Array(raw.length);
  for (let k = 0; k < c.codebook_size; k++) {
    let n = 0;
    for (let j = 0; j < D; j++) n += raw[k * D + j]! ** 2;
    const s = 1 / Math.max(Math.sqrt(n), 1e-12);
    for (let j = 0; j < D; j++) out[k * D + j] = raw[k * D + j]! * s;
  }
  return out;
}

/** Which VQ decoder fusions a ConvNet call uses (the vq* switches of src/model/fusions.ts). */
export interface ConvFusions {
  /** GN + SiLU in the next conv's staging, the ResBlock's skip in conv2's epilogue. */
  normConv: boolean;
  /** 3×3 convs with 2 output rows per thread. */
  rows2: boolean;
  /** GroupNorm statistics in one pass. */
  stats1Pass: boolean;
  /** Small workgroup tiles (conv2d smallTiles) for outputs of at most SMALL_TILE_MAX_PIXELS pixels. */
  smallTiles: boolean;
}
const UNFUSED: ConvFusions = { normConv: false, rows2: false, stats1Pass: false, smallTiles: false };
/** Ho · Wo up to which the smallTiles fusion applies: up to 32 × 32 the 16 × 8 × 8 tiles give at most
 *  4 · 4 · 16 = 256 workgroups at 128 channels, under two per SM of a 132-SM GPU. */
export const SMALL_TILE_MAX_PIXELS = 1024;
/** Whether a conv of x (stride, upsample; padding (k − 1) / 2, so Ho = ⌈H·2^up / stride⌉) takes small tiles. */
function smallTiles(f: ConvFusions, x: Tensor, stride: number, upsample: boolean): boolean {
  const up = upsample ? 2 : 1;
  const px = Math.ceil((x.shape[2]! * up) / stride) * Math.ceil((x.shape[3]! * up) / stride);
  return f.smallTiles && px <= SMALL_TILE_MAX_PIXELS;
}

/** Conv / GroupNorm / ResBlock helpers over one prefix of the weights, with the config's shapes checked at build. */
export class ConvNet {
  readonly p: GpuParams;
  constructor(
    readonly e: Engine,
    readonly cfg: VQConfig,
    weights: WeightMap,
  ) {
    this.p = new GpuParams(e, weights);
  }

  /** Uploads every table entry except the codebook (used on the CPU), checking shapes. */
  declare(table: ParamTable): void {
    for (const [name, shape] of table) if (name !== 'quant.codebook') this.p.get(name, shape);
  }

  conv(x: Tensor, name: string, stride: 1 | 2 = 1, upsample = false, f: ConvFusions = UNFUSED): Tensor {
    const w = this.p.get(`${name}.weight`);
    const rowsPerThread = f.rows2 && w.shape[2] === 3 ? 2 : 1;
    return conv2d(this.e, x, w, this.p.get(`${name}.bias`), {
      stride,
      padding: (w.shape[2]! - 1) / 2,
      upsample,
      rowsPerThread,
      smallTiles: smallTiles(f, x, stride, upsample),
    });
  }
  private groups(x: Tensor): number {
    return Math.min(this.cfg.norm_groups, x.shape[1]!);
  }
  /** conv3×3(SiLU(GroupNorm_norm(x))) (+ residual) in two dispatches: the norm's statistics, then the conv that
   *  normalises while staging and adds the residual in its epilogue. */
  normConv(x: Tensor, norm: string, name: string, f: ConvFusions, residual?: Tensor): Tensor {
    const groups = this.groups(x);
    const stats = groupNormStats(this.e, x, groups, this.cfg.gn_eps, f.stats1Pass);
    const w = this.p.get(`${name}.weight`);
    const out = conv2d(this.e, x, w, this.p.get(`${name}.bias`), {
      padding: (w.shape[2]! - 1) / 2,
      norm: { stats, groups, gamma: this.p.get(`${norm}.weight`), beta: this.p.get(`${norm}.bias`) },
      residual,
      rowsPerThread: f.rows2 && w.shape[2] === 3 ? 2 : 1,
      smallTiles: smallTiles(f, x, 1, false),
    });
    stats.dispose();
    return out;
  }
  /** GroupNorm (min(norm_groups, C) groups, gn_eps) fused with SiLU. */
  gnSilu(x: Tensor, name: string, f: ConvFusions = UNFUSED): Tensor {
    return groupNorm(this.e, x, this.groups(x), this.p.get(`${name}.weight`), this.p.get(`${name}.bias`), {
      eps: this.cfg.gn_eps,
      silu: true,
      onePass: f.stats1Pass,
    });
  }
  res(x: Tensor, name: string, f: ConvFusions = UNFUSED): Tensor {
    const s = new Scope();
    const skip = this.p.has(`${name}.skip.weight`) ? s.t(this.conv(x, `${name}.skip`, 1, false, f)) : x;
    if (f.normConv) {
      const h = s.t(this.normConv(x, `${name}.norm1`, `${name}.conv1`, f));
      const out = this.normConv(h, `${name}.norm2`, `${name}.conv2`, f, skip);
      s.dispose();
      return out;
    }
    const h = s.t(
      this.conv(
        s.t(
          this.gnSilu(
            s.t(this.conv(s.t(this.gnSilu(x, `${name}.norm1`, f)), `${name}.conv1`, 1, false, f)),
            `${name}.norm2`,
            f,
          ),
        ),
        `${name}.conv2`,
        1,
        false,
        f,
      ),
    );
    const out = add(this.e, skip, h);
    s.dispose();
    return out;
  }

  dispose(): void {
    this.p.dispose();
  }
}
