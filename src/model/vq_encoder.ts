// VQ encoder on the engine (training/mmamba/vq.py Encoder + Quantizer.lookup): image (B, 3, S, S) in [-1, 1] →
// conv_in → per level ResBlocks then a stride-2 conv3×3 → mid ResBlocks → GN+SiLU → conv_out 1×1 → latent
// (B, code_dim, g, g); tokens = argmax_k <normalize(latent), code_k> (first maximum), the lookup done on the CPU
// (g·g·K·D ≈ 2M multiply-adds). Used by fine-tuning to turn uploaded images into token grids.
import type { Engine } from '../engine/engine';
import { ShapeError } from '../engine/errors';
import type { Tensor } from '../engine/tensor';
import { Scope, type VQConfig } from './common';
import { checkVQConfig, ConvNet, normalisedCodes } from './vq_common';
import { vqEncoderParams } from './params';
import type { WeightMap } from './weights';

export class VQEncoder {
  readonly grid: number;
  private readonly net: ConvNet;
  private readonly codes: Float32Array;
  private readonly chs: number[];

  constructor(
    private readonly e: Engine,
    readonly config: VQConfig,
    weights: WeightMap,
  ) {
    const c = config;
    const { chs, grid } = checkVQConfig(c);
    this.chs = chs;
    this.grid = grid;
    this.codes = normalisedCodes(c, weights);
    this.net = new ConvNet(e, c, weights);
    this.net.declare(vqEncoderParams(c));
  }

  /** images (B, 3, S, S) → latent (B, code_dim, g, g), before normalisation. */
  latent(x: Tensor): Tensor {
    const n = this.net;
    const c = this.config;
    if (
      x.shape.length !== 4 ||
      x.shape[1] !== c.in_channels ||
      x.shape[2] !== c.image_size ||
      x.shape[3] !== c.image_size
    )
      throw new ShapeError(`vq encoder: image ${x} must be (B, ${c.in_channels}, ${c.image_size}, ${c.image_size})`);
    const s = new Scope();
    let h = s.t(n.conv(x, 'encoder.conv_in'));
    this.chs.forEach((_, i) => {
      for (let j = 0; j < c.enc_res_blocks; j++) h = s.t(n.res(h, `encoder.levels.${i}.blocks.${j}`));
      if (i < this.chs.length - 1) h = s.t(n.conv(h, `encoder.levels.${i}.down`, 2));
    });
    for (let m = 0; m < c.mid_blocks; m++) h = s.t(n.res(h, `encoder.mid.${m}`));
    const out = n.conv(s.t(n.gnSilu(h, 'encoder.norm_out')), 'encoder.conv_out');
    s.dispose();
    return out;
  }

  /** Nearest codes of a latent (B, D, g, g) on the CPU → tokens (B, g·g). */
  lookup(latent: Float32Array, B: number): Int32Array {
    const { code_dim: D, codebook_size: K } = this.config;
    const HW = this.grid * this.grid;
    const out = new Int32Array(B * HW);
    const v = new Float64Array(D);
    for (let b = 0; b < B; b++)
      for (let p = 0; p < HW; p++) {
        let n = 0;
        for (let j = 0; j < D; j++) {
          const x = latent[(b * D + j) * HW + p]!;
          v[j] = x;
          n += x * x;
        }
        const s = 1 / Math.max(Math.sqrt(n), 1e-12);
        let best = 0;
        let bestDot = -Infinity;
        for (let k = 0; k < K; k++) {
          let dot = 0;
          for (let j = 0; j < D; j++) dot += v[j]! * s * this.codes[k * D + j]!;
          if (dot > bestDot) (bestDot = dot), (best = k);
        }
        out[b * HW + p] = best;
      }
    return out;
  }

  /** images (B, 3, S, S) in [-1, 1] → tokens (B, g·g). */
  async encode(x: Tensor): Promise<Int32Array> {
    const z = this.latent(x);
    const data = await this.e.readF32(z);
    z.dispose();
    return this.lookup(data, x.shape[0]!);
  }

  /** RGBA pixels (S·S·4, e.g. ImageData.data) → (1, 3, S, S) in [-1, 1] (vq.py images_to_tensor). */
  imageFromRGBA(rgba: ArrayLike<number>): Tensor {
    const S = this.config.image_size;
    if (rgba.length !== S * S * 4) throw new ShapeError(`vq encoder: ${rgba.length} RGBA values for a ${S}×${S} image`);
    const x = new Float32Array(3 * S * S);
    for (let p = 0; p < S * S; p++)
      // f32 ops, as torch
      for (let ch = 0; ch < 3; ch++) x[ch * S * S + p] = Math.fround(Math.fround(rgba[p * 4 + ch]! / 127.5) - 1);
    return this.e.fromArray([1, 3, S, S], x, 'f32', 'vq_image');
  }

  dispose(): void {
    this.net.dispose();
  }
}
