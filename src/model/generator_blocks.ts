// Pieces shared by the generators (M-Mamba and UViT; inference and the fine-tuning backward): the adaLN-Zero GEGLU
// feed-forward sublayer and the output head. Each returns its intermediates (owned by the scope passed in) so the
// backward can read them; the result the caller keeps (`out`, `logits`) is not in the scope.
import type { Engine } from '../engine/engine';
import { geglu } from '../engine/ops/geglu';
import { interleaveGegluRows, linear, linearGatedResidual, linearGeglu } from '../engine/ops/matmul';
import { gatedResidual } from '../engine/ops/model_glue';
import { rmsNorm } from '../engine/ops/norm';
import type { Tensor } from '../engine/tensor';
import type { GpuParams, Scope } from './common';
import type { Fusions } from './fusions';

/** The FFN sublayer's weights: GEGLU w_in (2h, d) + bias, w_out (d, h) + bias. */
export interface AdaLnFfnWeights {
  wIn: Tensor;
  bIn: Tensor;
  wOut: Tensor;
  bOut: Tensor;
}

export interface AdaLnFfnActs {
  u: Tensor; //   (B, L, d)   RMSNorm(h)·(1 + scale) + shift
  pre: Tensor; // (B, L, 2h)  u·W_in^T + b
  hid: Tensor; // (B, L, h)   GEGLU(pre)
  fo: Tensor; //  (B, L, d)   hid·W_out^T + b
  out: Tensor; // (B, L, d)   h + gate·fo (the caller owns it)
}

/** h (B, L, d), mod (B, 3d) = [shift ; scale ; gate] → h + gate·GEGLU-FFN(RMSNorm(h)·(1 + scale) + shift). */
export function adaLnFfnForward(e: Engine, h: Tensor, mod: Tensor, w: AdaLnFfnWeights, s: Scope): AdaLnFfnActs {
  const d = h.shape[h.shape.length - 1]!;
  const u = s.t(rmsNorm(e, h, { shift: { tensor: mod, offset: 0 }, scale: { tensor: mod, offset: d } }));
  const pre = s.t(linear(e, u, w.wIn, w.bIn));
  const hid = s.t(geglu(e, pre));
  const fo = s.t(linear(e, hid, w.wOut, w.bOut));
  const out = gatedResidual(e, h, { tensor: mod, offset: 2 * d }, fo);
  return { u, pre, hid, fo, out };
}

/** GEGLU up-projection weights row-interleaved for `linearGeglu` (uploaded once; base weights only). */
export interface GegluWeights {
  wIn: Tensor; // (2h, d)
  bIn: Tensor; // (2h)
}

/** The interleaved w_in / b_in of the FFN whose weights are named `${prefix}w_in.weight` / `.bias`. */
export function gegluWeights(p: GpuParams, prefix: string): GegluWeights {
  const F = p.get(`${prefix}w_in.bias`).size / 2;
  const make = (name: string) => () => {
    const t = p.get(name);
    return { shape: [...t.shape], data: interleaveGegluRows(p.host(name), F) };
  };
  return {
    wIn: p.derived(`${prefix}w_in.weight#geglu`, make(`${prefix}w_in.weight`)),
    bIn: p.derived(`${prefix}w_in.bias#geglu`, make(`${prefix}w_in.bias`)),
  };
}

/** adaLnFfnForward's output alone, for inference, with the fusions switched on in `f` (`gw`: the interleaved
 *  up-projection, needed when f.gegluEpilogue). The intermediates go into the scope. */
export function adaLnFfnInfer(
  e: Engine,
  h: Tensor,
  mod: Tensor,
  w: AdaLnFfnWeights,
  gw: GegluWeights | null,
  f: Fusions,
  s: Scope,
): Tensor {
  const d = h.shape[h.shape.length - 1]!;
  const u = s.t(rmsNorm(e, h, { shift: { tensor: mod, offset: 0 }, scale: { tensor: mod, offset: d } }));
  const hid = s.t(
    f.gegluEpilogue && gw
      ? linearGeglu(e, u, gw.wIn, gw.bIn, { label: 'ffn_in_geglu' })
      : geglu(e, s.t(linear(e, u, w.wIn, w.bIn))),
  );
  const gate = { tensor: mod, offset: 2 * d };
  if (f.outResidual) return linearGatedResidual(e, hid, w.wOut, w.bOut, h, gate, { label: 'ffn_out_residual' });
  return gatedResidual(e, h, gate, s.t(linear(e, hid, w.wOut, w.bOut)));
}

/** The head's weights: RMSNorm weight (d), Linear (K, d) + bias. */
export interface HeadWeights {
  norm: Tensor;
  w: Tensor;
  b: Tensor;
}

/** h (B, HW, d) → hn = RMSNorm_w(h) (in the scope) and logits = hn·W^T + b (B, HW, K) (the caller owns it). */
export function headForward(e: Engine, h: Tensor, w: HeadWeights, s: Scope): { hn: Tensor; logits: Tensor } {
  const hn = s.t(rmsNorm(e, h, { weight: w.norm }));
  return { hn, logits: linear(e, hn, w.w, w.b, 'logits') };
}
