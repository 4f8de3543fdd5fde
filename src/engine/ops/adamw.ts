// AdamW with global-norm gradient clipping (shaders/adamw.wgsl), for the LoRA fine-tuner: the step writes new
// parameter / moment tensors and leaves its inputs untouched, so a caller can drop a non-finite update by keeping
// the old tensors. `sumOfSquares` / `sumSlots` build the global gradient norm on the GPU in fixed order.
// CPU reference: reference/adamw.ts.
import src from '../../../shaders/adamw.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

const CODE: Record<string, string> = Object.fromEntries(
  src
    .split('//#entry ')
    .slice(1)
    .map((s) => [s.slice(0, s.indexOf('\n')).trim(), s.slice(s.indexOf('\n'))]),
);

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count t (bias corrections 1 − β^t). */
  step: number;
}

export interface AdamWState {
  param: Tensor;
  m: Tensor;
  v: Tensor;
}

/** Clip the gradient to global norm `maxNorm` (> 0), the squared norm read from stats[slot]; null: no clipping. */
export interface ClipSpec {
  stats: Tensor;
  slot: number;
  maxNorm: number;
}

/** One AdamW update of `s` with gradient `grad` → new tensors {param, m, v} (the inputs are not written). */
export function adamwStep(e: Engine, s: AdamWState, grad: Tensor, h: AdamWHyper, clip: ClipSpec | null): AdamWState {
  const n = s.param.size;
  for (const t of [s.m, s.v, grad])
    if (t.size !== n || t.dtype !== 'f32')
      throw new ShapeError(`adamwStep: ${t} must be f32 with ${n} elements like ${s.param}`);
  if (!(h.step >= 1)) throw new ShapeError(`adamwStep: step must be ≥ 1, got ${h.step}`);
  const stats = clip?.stats ?? grad;
  const out: AdamWState = {
    param: e.empty(s.param.shape, 'f32', s.param.label),
    m: e.empty(s.param.shape, 'f32', 'adam_m'),
    v: e.empty(s.param.shape, 'f32', 'adam_v'),
  };
  const u = uniforms([
    n,
    clip?.slot ?? 0,
    0,
    0,
    [h.lr, 'f32'],
    [h.beta1, 'f32'],
    [h.beta2, 'f32'],
    [h.eps, 'f32'],
    [h.weightDecay, 'f32'],
    [1 - h.beta1 ** h.step, 'f32'],
    [1 - h.beta2 ** h.step, 'f32'],
    [clip && clip.maxNorm > 0 ? clip.maxNorm : 0, 'f32'],
  ]);
  e.dispatch({
    code: CODE.step!,
    bindings: [u, s.param, grad, s.m, s.v, stats, out.param, out.m, out.v],
    workgroups: grid1d(Math.ceil(n / 256)),
    label: 'adamw',
  });
  return out;
}

/** into[slot] = Σ x² (one workgroup, fixed order). */
export function sumOfSquares(e: Engine, x: Tensor, into: Tensor, slot: number): void {
  if (x.dtype !== 'f32' || slot < 0 || slot >= into.size)
    throw new ShapeError(`sumOfSquares: bad ${x} or slot ${slot} of ${into}`);
  e.dispatch({
    code: CODE.sumsq!,
    bindings: [uniforms([x.size, slot, 0, 0]), x, into],
    workgroups: [1],
    label: 'sumsq',
  });
}

/** into[slot] = Σ_{i < count} partials[i], in order. */
export function sumSlots(e: Engine, partials: Tensor, count: number, into: Tensor, slot: number): void {
  if (count > partials.size || slot < 0 || slot >= into.size)
    throw new ShapeError(`sumSlots: ${count} of ${partials} into slot ${slot} of ${into}`);
  e.dispatch({
    code: CODE.total!,
    bindings: [uniforms([count, slot, 0, 0]), partials, into],
    workgroups: [1],
    label: 'sum_slots',
  });
}
