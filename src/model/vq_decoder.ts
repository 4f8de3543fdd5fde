// VQ decoder on the engine (training/mmamba/vq.py Decoder + Quantizer.embed): token grid → codebook vectors
// (l2-normalised rows, NCHW (B, code_dim, g, g), gathered on the CPU: a few kB) → conv_in → mid ResBlocks → per level
// (deepest first) ResBlocks then nearest ×2 + conv3×3 (fused in conv2d) → GN+SiLU → conv_out → (B, 3, S, S) in
// [-1, 1] (unclamped). toRGBA clamps and rounds as vq.py tensor_to_images.
// preview() does the same from a token grid that is already on the GPU (gather and RGBA rounding in
// shaders/preview.wgsl) and packs pixels + grid into one tensor, so a sampler step needs a single readback.
import type { Engine } from '../engine/engine';
import { ShapeError } from '../engine/errors';
import { embedCodes, packPreview } from '../engine/ops/preview';
import type { Tensor } from '../engine/tensor';
import { Scope, type VQConfig } from './common';
import { defaultFusions, type Fusions } from './fusions';
import { checkVQConfig, type ConvFusions, ConvNet, normalisedCodes } from './vq_common';
import { vqDecoderParams } from './params';
import type { WeightMap } from './weights';

export class VQDecoder {
  readonly grid: number;
  readonly imageSize: number;
  /** The code closest to the mean code direction: what masked positions are decoded as (a neutral patch that the
   *  UI draws the mask over), so previews never depend on an arbitrary id. */
  readonly neutralToken: number;
  private readonly net: ConvNet;
  private readonly codes: Float32Array; // (K, D)
  private codesOnGpu: Tensor | null = null; // (K, D), uploaded by the first preview()
  private readonly chs: number[];
  /** Inference fusions (fusions.ts: the vq* ones apply here); all on by default, switched off one at a time by the
   *  latency benchmark. */
  fusions: Fusions = defaultFusions();

  constructor(
    private readonly e: Engine,
    readonly config: VQConfig,
    weights: WeightMap,
  ) {
    const c = config;
    const { chs, grid } = checkVQConfig(c);
    this.chs = chs;
    this.grid = grid;
    this.imageSize = c.image_size;
    this.codes = normalisedCodes(c, weights);
    this.neutralToken = neutralCode(this.codes, c.codebook_size, c.code_dim);
    this.net = new ConvNet(e, c, weights);
    this.net.declare(vqDecoderParams(c));
  }

  /** (B, code_dim, g, g) decoder input for a (B, g·g) token grid; ids ≥ codebook_size ([MASK]) → neutralToken. */
  embed(tokens: ArrayLike<number>, B: number): Float32Array {
    const { code_dim: D, codebook_size: K } = this.config;
    const HW = this.grid * this.grid;
    if (tokens.length !== B * HW)
      throw new ShapeError(`vq decoder: ${tokens.length} tokens for B=${B}, grid ${this.grid}`);
    const z = new Float32Array(B * D * HW);
    for (let b = 0; b < B; b++)
      for (let p = 0; p < HW; p++) {
        const t = tokens[b * HW + p]!;
        const k = t >= 0 && t < K ? t : this.neutralToken;
        for (let j = 0; j < D; j++) z[(b * D + j) * HW + p] = this.codes[k * D + j]!;
      }
    return z;
  }

  /** z (B, code_dim, g, g) → images (B, in_channels, S, S). */
  decodeLatent(z: Tensor): Tensor {
    const n = this.net;
    const c = this.config;
    const fu = this.fusions;
    const f: ConvFusions = {
      normConv: fu.vqNormConv,
      rows2: fu.vqConvRows2,
      stats1Pass: fu.vqStats1Pass,
      smallTiles: fu.vqSmallTiles,
    };
    const s = new Scope();
    let h = s.t(n.conv(z, 'decoder.conv_in', 1, false, f));
    for (let m = 0; m < c.mid_blocks; m++) h = s.t(n.res(h, `decoder.mid.${m}`, f));
    for (let l = 0; l < this.chs.length; l++) {
      for (let j = 0; j < c.dec_res_blocks; j++) h = s.t(n.res(h, `decoder.levels.${l}.blocks.${j}`, f));
      if (l < this.chs.length - 1) h = s.t(n.conv(h, `decoder.levels.${l}.up`, 1, true, f)); // nearest ×2 + conv
    }
    const out = f.normConv
      ? n.normConv(h, 'decoder.norm_out', 'decoder.conv_out', f)
      : n.conv(s.t(n.gnSilu(h, 'decoder.norm_out', f)), 'decoder.conv_out', 1, false, f);
    s.dispose();
    return out;
  }

  /** Token grid (B, g·g) → images (B, 3, S, S), [-1, 1] scale, unclamped. */
  decode(tokens: ArrayLike<number>, B = 1): Tensor {
    const z = this.e.fromArray([B, this.config.code_dim, this.grid, this.grid], this.embed(tokens, B), 'f32', 'vq_z');
    const out = this.decodeLatent(z);
    z.dispose();
    return out;
  }

  /** One token grid (g·g) → RGBA pixels (S·S·4). */
  async decodeToRGBA(tokens: ArrayLike<number>): Promise<Uint8ClampedArray> {
    const img = this.decode(tokens, 1);
    const x = await this.e.readF32(img);
    img.dispose();
    return toRGBA(x, this.imageSize);
  }

  /**
   * A token grid already on the GPU, u32 (B, g·g) (ids ≥ codebook_size, e.g. [MASK], → neutralToken), decoded and
   * packed for one readback: u32 (B·S² + B·g·g) = RGBA8 pixels of each image (bytes R, G, B, 255; rounded as toRGBA
   * but in f32, as PyTorch), then the grid itself. The caller disposes the result.
   */
  preview(tokens: Tensor): Tensor {
    const { code_dim: D, codebook_size: K } = this.config;
    this.codesOnGpu ??= this.e.fromArray([K, D], this.codes, 'f32', 'vq_codes');
    const z = embedCodes(this.e, tokens, this.codesOnGpu, this.neutralToken); // (B, D, g, g)
    const img = this.decodeLatent(z); //                                         (B, 3, S, S)
    const packed = packPreview(this.e, img, tokens);
    z.dispose();
    img.dispose();
    return packed;
  }

  dispose(): void {
    this.net.dispose();
    this.codesOnGpu?.dispose();
    this.codesOnGpu = null;
  }
}

function neutralCode(codes: Float32Array, K: number, D: number): number {
  const mean = new Float64Array(D);
  for (let k = 0; k < K; k++) for (let j = 0; j < D; j++) mean[j]! += codes[k * D + j]!;
  let best = 0;
  let bestDot = -Infinity;
  for (let k = 0; k < K; k++) {
    let dot = 0;
    for (let j = 0; j < D; j++) dot += mean[j]! * codes[k * D + j]!;
    if (dot > bestDot) (bestDot = dot), (best = k);
  }
  return best;
}

/** Round half to even (torch.round). */
const roundEven = (v: number): number => {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** (3, S, S) in [-1, 1] → RGBA (S·S·4), as vq.py tensor_to_images: round((clamp(x, −1, 1) + 1)·127.5), alpha 255. */
export function toRGBA(x: Float32Array, S: number): Uint8ClampedArray {
  const HW = S * S;
  if (x.length < 3 * HW) throw new ShapeError(`toRGBA: ${x.length} values for 3×${S}×${S}`);
  const out = new Uint8ClampedArray(HW * 4);
  for (let p = 0; p < HW; p++) {
    for (let ch = 0; ch < 3; ch++)
      out[p * 4 + ch] = roundEven((Math.min(1, Math.max(-1, x[ch * HW + p]!)) + 1) * 127.5);
    out[p * 4 + 3] = 255;
  }
  return out;
}
