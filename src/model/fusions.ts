// Inference fusions of the generators' forward and the VQ preview decode (issue 18): each one removes dispatches
// or work per layer (or per step), or spreads the work over more threads, without changing what is computed beyond
// f32 rounding. The models use defaultFusions(): every fusion that the H200 A/B (docs/benchmarks.md) measured and did
// not find slower; a benchmark turns them on and off one at a time for interleaved A/B runs (bench/latency.ts). The
// fine-tuning forward (which keeps every activation for its backward) and the VQ encoder never use them.
export interface Fusions {
  /** out-projections + adaLN-Zero residual (mixer out_proj, FFN w_out, UViT attention out) as one matmul epilogue. */
  outResidual: boolean;
  /** The FFN's GEGLU gate in its up-projection's epilogue (weights row-interleaved once on upload). */
  gegluEpilogue: boolean;
  /** M-Mamba's dt_proj reads the dt columns of x_dbl in place (no slice copy). */
  dtSlice: boolean;
  /** M-Mamba's head reads the image rows of h in place (no row-slice copy before the head's norm and matmul). */
  headSlice: boolean;
  /** VQ decoder: GroupNorm + SiLU applied in the next conv's input staging (a stats-only kernel before it) and the
   *  ResBlock's skip added in conv2's epilogue: a ResBlock is stats, conv, stats, conv (+ 1×1 skip). */
  vqNormConv: boolean;
  /** VQ decoder: its 3×3 convs compute 2 output rows per thread (16 × 16 pixels × 8 channels per workgroup). */
  vqConvRows2: boolean;
  /** VQ decoder: GroupNorm statistics in one pass (shifted sums, 4 loads in flight per thread) instead of two. */
  vqStats1Pass: boolean;
  /** VQ decoder: 3×3 / 1×1 convs with at most SMALL_TILE_MAX_PIXELS output pixels (vq_common.ts) use 8 × 8 pixel
   *  × 4 output channel workgroups, 4× the workgroups of the 16 × 8 × 8 tile (32 at 16 × 16 × 128 is too few). */
  vqSmallTiles: boolean;
  /** M-Mamba's inference scan: selectiveScanChunked (chunk-parallel over L) instead of the fused sequential scan. */
  chunkedScan: boolean;
}

export const FUSION_NAMES = [
  'outResidual',
  'gegluEpilogue',
  'dtSlice',
  'headSlice',
  'vqNormConv',
  'vqConvRows2',
  'vqStats1Pass',
  'vqSmallTiles',
  'chunkedScan',
] as const satisfies ReadonlyArray<keyof Fusions>;

export const allFusions = (): Fusions => ({
  outResidual: true,
  gegluEpilogue: true,
  dtSlice: true,
  headSlice: true,
  vqNormConv: true,
  vqConvRows2: true,
  vqStats1Pass: true,
  vqSmallTiles: true,
  chunkedScan: true,
});
/** What the models run: all but vqConvRows2, which made the vq-s preview decode slower on the H200 (3.09 against
 *  2.52 ms per decode with it off, 2026-12-02: at 16 × 16 its 16-row tiles halve the workgroups), and vqSmallTiles,
 *  slower on two machine starts (6.44 against 6.37 ms a step). chunkedScan is on: faster on two starts (docs/benchmarks.md). */
export const defaultFusions = (): Fusions => ({
  ...allFusions(),
  vqConvRows2: false,
  vqSmallTiles: false,
});
export const noFusions = (): Fusions => ({
  outResidual: false,
  gegluEpilogue: false,
  dtSlice: false,
  headSlice: false,
  vqNormConv: false,
  vqConvRows2: false,
  vqStats1Pass: false,
  vqSmallTiles: false,
  chunkedScan: false,
});
