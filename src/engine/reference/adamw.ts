// CPU reference of shaders/adamw.wgsl in f64: PyTorch's torch.optim.AdamW step (decoupled decay applied first),
// with the gradient scaled by clip_grad_norm_'s coefficient min(1, maxNorm / (norm + 1e-6)).
export interface AdamWRefHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
}

/** Global-norm clipping coefficient (maxNorm ≤ 0: 1). */
export const clipCoefficient = (sumsq: number, maxNorm: number): number =>
  maxNorm > 0 ? Math.min(1, maxNorm / (Math.sqrt(sumsq) + 1e-6)) : 1;

export function adamwReference(
  param: ArrayLike<number>,
  grad: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  h: AdamWRefHyper,
  coef = 1,
): { param: Float64Array; m: Float64Array; v: Float64Array } {
  const n = param.length;
  const out = { param: new Float64Array(n), m: new Float64Array(n), v: new Float64Array(n) };
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  for (let i = 0; i < n; i++) {
    const g = grad[i]! * coef;
    const m1 = h.beta1 * m[i]! + (1 - h.beta1) * g;
    const v1 = h.beta2 * v[i]! + (1 - h.beta2) * g * g;
    out.param[i] = param[i]! * (1 - h.lr * h.weightDecay) - (h.lr * (m1 / bc1)) / (Math.sqrt(v1 / bc2) + h.eps);
    out.m[i] = m1;
    out.v[i] = v1;
  }
  return out;
}
