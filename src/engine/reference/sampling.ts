// CPU references for shaders/sampling.wgsl, on the shared counter-based RNG of ../rng.ts (docs/architecture.md
// "Random numbers", training/mmamba/rng.py; re-exported here for the tests): Gumbel noise; Gumbel-max token
// sampling with log-softmax of the sampled token; argmax; and one MaskGIT step's confidence + re-mask update
// (training/mmamba/sampling.py). hash32/uniform are bit-exact with Python; f32 roundings are explicit (Math.fround).

import { nMaskAfterStep, type Seeds } from '../ops/sampling';
import { rngKey, uniformFromKey } from '../rng';

export { hash32, rngKey, uniform, uniformFromKey } from '../rng';
export { nMaskAfterStep };

/** -log(-log(u)) in f64 (the GPU's f32 log differs by a few ulp). */
export const gumbel = (u: number): number => -Math.log(-Math.log(u));

/** argmax over rows of K: first index of the maximum. */
export function argmaxRef(x: Float32Array, K: number): Uint32Array {
  const out = new Uint32Array(x.length / K);
  for (let r = 0; r < out.length; r++) {
    let bi = 0;
    for (let k = 1; k < K; k++) if (x[r * K + k]! > x[r * K + bi]!) bi = k;
    out[r] = bi;
  }
  return out;
}

export interface SampleRefResult {
  tokens: Uint32Array; // (R)
  logp: Float32Array; // (R) log_softmax(logits)[token]
  /** (R) gap between the best and second-best perturbed score: near-ties may flip with a few-ulp log. */
  margin: Float64Array;
}

/** The key and counter of flat row r = b·HW + pos: one seed (counter r) or one per batch row (counter pos). */
function rowKeyCounter(seed: Seeds, stream: number, r: number, HW: number): [number, number] {
  if (typeof seed === 'number') return [rngKey(seed, stream), r];
  const b = Math.floor(r / HW);
  return [rngKey(seed[b]!, stream), r - b * HW];
}

/** Gumbel-max sampling over rows of K logits (R rows; with `guidance`, `logits` holds 2R rows: cond then uncond).
 *  With one seed per batch row, HW (positions per batch row) says which row a logits row belongs to. */
export function gumbelMaxSampleRef(
  logits: Float32Array,
  K: number,
  o: { seed: Seeds; stream: number; temperature?: number; guidance?: number; HW?: number },
): SampleRefResult {
  const guided = o.guidance !== undefined;
  const R = logits.length / K / (guided ? 2 : 1);
  const temp = Math.fround(o.temperature ?? 1);
  const g = Math.fround(o.guidance ?? 0);
  const tokens = new Uint32Array(R);
  const logp = new Float32Array(R);
  const margin = new Float64Array(R);
  const l = new Float32Array(K);
  for (let r = 0; r < R; r++) {
    const [key, cnt] = rowKeyCounter(o.seed, o.stream, r, o.HW ?? R);
    for (let k = 0; k < K; k++) {
      const c = logits[r * K + k]!;
      const u = logits[(r + R) * K + k]!;
      l[k] = guided ? Math.fround(u + Math.fround(g * Math.fround(c - u))) : c; // uncond + g·(cond − uncond)
    }
    let best = -Infinity;
    let second = -Infinity;
    let bi = 0;
    let m = -Infinity;
    for (let k = 0; k < K; k++) {
      m = Math.max(m, l[k]!);
      const v = Math.fround(l[k]! / temp) + gumbel(uniformFromKey(key, cnt * K + k));
      if (v > best) {
        second = best;
        best = v;
        bi = k;
      } else if (v > second) second = v;
    }
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(l[k]! - m);
    tokens[r] = bi;
    logp[r] = l[bi]! - m - Math.log(s);
    margin[r] = best - second;
  }
  return { tokens, logp, margin };
}

export interface MaskgitStepRef {
  tokens: Uint32Array; // (B, HW)
  conf: Float32Array; // (B, HW), +inf at known positions
}

/** One MaskGIT update after sampling, for B rows of HW positions (sampling.py maskgit_sample's loop body); the
 *  schedule runs over `masked` positions (default HW). */
export function maskgitUpdateRef(
  tokens: Uint32Array,
  sampled: Uint32Array,
  logp: Float32Array,
  o: { B: number; HW: number; seed: Seeds; step: number; steps: number; tau: number; maskId: number; masked?: number },
): MaskgitStepRef {
  const { B, HW, maskId } = o;
  const factor = Math.fround(o.tau * (1 - (o.step + 1) / o.steps));
  const nBase = nMaskAfterStep(o.step, o.steps, o.masked ?? HW);
  const out = new Uint32Array(B * HW);
  const conf = new Float32Array(B * HW);
  for (let b = 0; b < B; b++) {
    let count = 0;
    for (let p = 0; p < HW; p++) {
      const i = b * HW + p;
      const unknown = tokens[i] === maskId;
      const [key, cnt] = rowKeyCounter(o.seed, 2 * o.step + 1, i, HW);
      conf[i] = unknown ? logp[i]! + factor * gumbel(uniformFromKey(key, cnt)) : Infinity;
      out[i] = unknown ? sampled[i]! : tokens[i]!;
      if (unknown) count++;
    }
    const n = Math.max(0, Math.min(nBase, count - 1));
    const order = Array.from({ length: HW }, (_, p) => p).sort(
      (x, y) => conf[b * HW + x]! - conf[b * HW + y]! || x - y,
    );
    for (let j = 0; j < n; j++) out[b * HW + order[j]!] = maskId;
  }
  return { tokens: out, conf };
}
