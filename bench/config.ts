// Benchmark shapes and settings. Full: the shipped model's shapes (docs/architecture.md; training/mmamba/config.py,
// vq.py): d = 512, di = 1024, N = 16, dt_rank = 32, 4 directions, 16 text + 16×16 image tokens, B ∈ {2, 32};
// VQ decoder ch 32, mult (1, 2, 2, 4) at 128/64/32/16 px. Quick: tiny shapes for SwiftShader (CPU) smoke runs.

export interface BenchConfig {
  quick: boolean;
  d: number;
  di: number;
  N: number;
  dtRank: number;
  K: 4;
  textLen: number;
  grid: number;
  heads: number;
  ffnMult: number;
  codebook: number;
  batches: number[];
  /** Widths for the layer comparison (M-Mamba vs UViT). */
  layerWidths: number[];
  layerBatches: number[];
  /** VQ decoder: base channels, multipliers, image side, code dim, norm groups, batch. */
  vq: { ch: number; mult: number[]; image: number; codeDim: number; groups: number; batch: number };
  /** Calibration: square matmul side, copy size in f32 elements. */
  calibMatmul: number;
  calibCopy: number;
  warmup: number;
  reps: number;
  /** performance.now() after which remaining cases are skipped (and listed as skipped): keeps a run bounded. */
  kernelDeadlineMs: number;
  layerDeadlineMs: number;
  /** Peak rates used for the floors (measured on the H200 by a copy and an f32 tiled-matmul probe; docs/benchmarks.md
   * "Method"). */
  peakBytesPerS: number;
  peakFlopsPerS: number;
}

export const PEAK_COPY_BYTES_PER_S = 4.1e12; // read + write, docs/benchmarks.md "Method"
export const PEAK_MATMUL_FLOPS_PER_S = 23.9e12; // f32 tiled matmul, docs/benchmarks.md "Method"

export function makeConfig(quick: boolean): BenchConfig {
  const common = {
    K: 4 as const,
    N: 16,
    kernelDeadlineMs: Infinity,
    layerDeadlineMs: Infinity,
    peakBytesPerS: PEAK_COPY_BYTES_PER_S,
    peakFlopsPerS: PEAK_MATMUL_FLOPS_PER_S,
  };
  if (quick)
    return {
      ...common,
      quick,
      d: 32,
      di: 64,
      dtRank: 2,
      textLen: 4,
      grid: 4,
      heads: 2,
      ffnMult: 4,
      codebook: 64,
      batches: [1, 2],
      layerWidths: [32],
      layerBatches: [1, 2],
      vq: { ch: 4, mult: [1, 2, 2, 4], image: 16, codeDim: 8, groups: 2, batch: 1 },
      calibMatmul: 64,
      calibCopy: 1 << 16,
      warmup: 1,
      reps: 3,
    };
  return {
    ...common,
    quick,
    d: 512,
    di: 1024,
    dtRank: 32,
    textLen: 16,
    grid: 16,
    heads: 8,
    ffnMult: 4,
    codebook: 1024,
    batches: [2, 32],
    layerWidths: [512, 1024],
    layerBatches: [1, 32],
    vq: { ch: 32, mult: [1, 2, 2, 4], image: 128, codeDim: 8, groups: 8, batch: 1 },
    calibMatmul: 4096,
    calibCopy: 64 << 20, // 256 MiB read + 256 MiB written
    warmup: 3,
    reps: 25,
  };
}
