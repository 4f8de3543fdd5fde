// Inference fusions of the generators' forward (issue 18): each one removes a dispatch per layer (or per step)
// without changing what is computed beyond f32 rounding. All on by default; a benchmark turns them off one at a time
// for interleaved A/B runs (bench/latency.ts). The fine-tuning forward (which keeps every activation for its
// backward) never uses them.
export interface Fusions {
  /** out-projections + adaLN-Zero residual (mixer out_proj, FFN w_out, UViT attention out) as one matmul epilogue. */
  outResidual: boolean;
  /** The FFN's GEGLU gate in its up-projection's epilogue (weights row-interleaved once on upload). */
  gegluEpilogue: boolean;
  /** M-Mamba's dt_proj reads the dt columns of x_dbl in place (no slice copy). */
  dtSlice: boolean;
  /** M-Mamba's head reads the image rows of h in place (no row-slice copy before the head's norm and matmul). */
  headSlice: boolean;
}

export const FUSION_NAMES = ['outResidual', 'gegluEpilogue', 'dtSlice', 'headSlice'] as const satisfies ReadonlyArray<
  keyof Fusions
>;

export const allFusions = (): Fusions => ({ outResidual: true, gegluEpilogue: true, dtSlice: true, headSlice: true });
export const noFusions = (): Fusions => ({
  outResidual: false,
  gegluEpilogue: false,
  dtSlice: false,
  headSlice: false,
});
