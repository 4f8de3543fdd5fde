// MaskGIT sampling kernels (shaders/sampling.wgsl): counter-based random numbers, argmax, Gumbel-max token
// sampling with optional classifier-free guidance, and the confidence + re-mask update of one sampler step.
// The per-(seed, stream) keys and the re-mask count are computed here on the CPU (f64, as sampling.py).
// A seed is one number (batch row b draws at counters b·HW + pos) or one per batch row (row b draws what a batch-1
// run with its own seed draws: counters of row 0), at most MAX_ROW_KEYS rows.
import code from '../../../shaders/sampling.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import { rngKey } from '../rng';
import type { Tensor } from '../tensor';

const MAX_HW = 1024;
/** Most batch rows with a seed each (the keys travel in the uniform block, shaders/sampling.wgsl). */
export const MAX_ROW_KEYS = 16;

/** One seed for the batch, or one per batch row. */
export type Seeds = number | ArrayLike<number>;

/** The MaskGIT cosine schedule: tokens still masked after step i of S, floor(cos(π/2 · (i+1)/S) · HW) in f64, as
 *  sampling.py n_mask_after_step. */
export const nMaskAfterStep = (i: number, steps: number, hw: number): number =>
  Math.floor(Math.cos((Math.PI / 2) * ((i + 1) / steps)) * hw);

interface P {
  rows: number;
  K?: number;
  key?: number;
  guided?: boolean;
  temperature?: number;
  guidance?: number;
  HW?: number;
  nBase?: number;
  maskId?: number;
  factor?: number;
  /** Per-row keys (rowKeys mode), or undefined for the single `key`. */
  keys?: number[];
}

const params = (p: P) =>
  uniforms([
    p.rows,
    p.K ?? 0,
    p.key ?? 0,
    p.guided ? 1 : 0,
    [p.temperature ?? 1, 'f32'],
    [p.guidance ?? 0, 'f32'],
    p.HW ?? 0,
    p.nBase ?? 0,
    p.maskId ?? 0,
    [p.factor ?? 0, 'f32'],
    0,
    p.keys ? 1 : 0,
    ...Array.from({ length: MAX_ROW_KEYS }, (_, b) => p.keys?.[b] ?? 0),
  ]);

/** The key(s) of one stream for `rows` batch rows: `key` for one seed, `keys` (one per row) for per-row seeds. */
function keysOf(seed: Seeds, stream: number, rows: number, what: string): { key: number; keys?: number[] } {
  if (typeof seed === 'number') return { key: rngKey(seed, stream) };
  if (seed.length !== rows) throw new ShapeError(`${what}: ${seed.length} seeds for ${rows} batch rows`);
  if (rows > MAX_ROW_KEYS)
    throw new ShapeError(`${what}: at most ${MAX_ROW_KEYS} rows with their own seeds, got ${rows}`);
  return { key: 0, keys: Array.from(seed, (s) => rngKey(s, stream)) };
}

/** The raw hashes hash32(i ^ key) and uniforms u(seed, stream, i) for i in 0..n−1 (tests, noise). */
export function randomUniform(e: Engine, n: number, seed: number, stream: number): { hash: Tensor; u: Tensor } {
  const hash = e.empty([n], 'u32', 'rng.hash');
  const u = e.empty([n], 'f32', 'rng.uniform');
  e.dispatch({
    code,
    entry: 'random_fill',
    bindings: [params({ rows: n, key: rngKey(seed, stream) }), hash, u],
    workgroups: grid1d(Math.ceil(n / 256)),
    label: 'random_fill',
  });
  return { hash, u };
}

function rowsOf(x: Tensor, what: string): [number, number] {
  if (x.dtype !== 'f32' || x.shape.length < 1) throw new ShapeError(`${what}: want f32 (…, K), got ${x}`);
  const K = x.shape[x.shape.length - 1]!;
  if (K === 0) throw new ShapeError(`${what}: the last dim of ${x} is empty`);
  return [x.size / K, K];
}

/** argmax over the last dim (first index of the maximum, as torch.argmax). x: (…, K) → index u32 (…), value f32 (…). */
export function argmax(e: Engine, x: Tensor): { index: Tensor; value: Tensor } {
  const [R] = rowsOf(x, 'argmax');
  const K = x.shape[x.shape.length - 1]!;
  const index = e.empty(x.shape.slice(0, -1), 'u32', 'argmax.index');
  const value = e.empty(x.shape.slice(0, -1), 'f32', 'argmax.value');
  e.dispatch({
    code,
    entry: 'argmax_rows',
    bindings: [params({ rows: R, K }), index, value, x],
    workgroups: grid1d(R),
    label: 'argmax',
  });
  return { index, value };
}

export interface SampleOptions {
  /** One seed, or one per batch row (then row b draws with counters pos·K + k, as a batch-1 run with its seed). */
  seed: Seeds;
  /** RNG stream: 2·step for token sampling (docs/architecture.md). */
  stream: number;
  temperature?: number;
  /** Classifier-free guidance scale g: `logits` then holds 2B rows, cond first, and l = u + g·(c − u)
   * (docs/architecture.md "MaskGIT sampler"). */
  guidance?: number;
}

/**
 * Gumbel-max sampling per position: token = argmax_k(l_k / temperature + gumbel(u(seed, stream, r·K + k))),
 * r = b·HW + pos, and logp = log_softmax(l)[token] (natural log; p = exp(logp)).
 * logits: (B, HW, K), or (2B, HW, K) with `guidance` (cond rows then uncond rows).
 * Returns tokens u32 (B, HW) and logp f32 (B, HW).
 */
export function gumbelMaxSample(e: Engine, logits: Tensor, o: SampleOptions): { tokens: Tensor; logp: Tensor } {
  if (logits.shape.length !== 3) throw new ShapeError(`gumbelMaxSample: logits must be (B, HW, K), got ${logits}`);
  const [B2, HW, K] = logits.shape as [number, number, number];
  const guided = o.guidance !== undefined;
  if (guided && B2 % 2 !== 0) throw new ShapeError(`gumbelMaxSample: guidance needs (2B, HW, K) logits, got ${logits}`);
  if (K === 0) throw new ShapeError('gumbelMaxSample: K = 0');
  const B = guided ? B2 / 2 : B2;
  const R = B * HW;
  const tokens = e.empty([B, HW], 'u32', 'sample.tokens');
  const logp = e.empty([B, HW], 'f32', 'sample.logp');
  e.dispatch({
    code,
    entry: 'sample_rows',
    bindings: [
      params({
        rows: R,
        K,
        ...keysOf(o.seed, o.stream, B, 'gumbelMaxSample'),
        HW,
        guided,
        temperature: o.temperature ?? 1,
        guidance: o.guidance ?? 0,
      }),
      tokens,
      logp,
      logits,
    ],
    workgroups: grid1d(R),
    label: 'gumbel_max_sample',
  });
  return { tokens, logp };
}

export interface MaskgitStepOptions {
  /** One seed, or one per batch row (then row b's counters are pos, as a batch-1 run with its seed). */
  seed: Seeds;
  /** Step i in 0..steps−1. */
  step: number;
  steps: number;
  /** Choice temperature tau (the page's default: GENERATION_SETTINGS.tau). */
  tau: number;
  /** The [MASK] id (= codebook size). */
  maskId: number;
  /** Positions the run started with masked, which the cosine schedule runs over (default HW; fewer when kept
   *  tokens are fixed from the start, as in inpainting). */
  masked?: number;
}

/**
 * One MaskGIT update (sampling.py): conf = logp + tau·(1 − (i+1)/S)·gumbel(u(seed, 2i+1, b·HW + pos)) at unknown
 * positions (+inf elsewhere), tokens = where(unknown, sampled, tokens), then the clamp(floor(cos(π/2·(i+1)/S)·M),
 * 0, count(unknown) − 1) lowest-confidence positions (ties: lower index) are set back to maskId; M = `masked`.
 * tokens, sampled: u32 (B, HW); logp: f32 (B, HW). Returns the new tokens u32 (B, HW) and conf f32 (B, HW).
 */
export function maskgitUpdate(
  e: Engine,
  tokens: Tensor,
  sampled: Tensor,
  logp: Tensor,
  o: MaskgitStepOptions,
): { tokens: Tensor; conf: Tensor } {
  if (tokens.shape.length !== 2 || tokens.dtype !== 'u32')
    throw new ShapeError(`maskgitUpdate: tokens must be u32 (B, HW), got ${tokens}`);
  const [B, HW] = tokens.shape as [number, number];
  if (HW > MAX_HW) throw new ShapeError(`maskgitUpdate: HW = ${HW} exceeds the kernel's ${MAX_HW}`);
  if (sampled.dtype !== 'u32' || sampled.shape.join() !== tokens.shape.join())
    throw new ShapeError(`maskgitUpdate: sampled ${sampled} must be u32 (B, HW) like ${tokens}`);
  if (logp.dtype !== 'f32' || logp.shape.join() !== tokens.shape.join())
    throw new ShapeError(`maskgitUpdate: logp ${logp} must be f32 (B, HW) like ${tokens}`);
  const out = e.empty([B, HW], 'u32', 'maskgit.tokens');
  const conf = e.empty([B, HW], 'f32', 'maskgit.conf');
  const masked = o.masked ?? HW;
  if (!Number.isInteger(masked) || masked < 0 || masked > HW)
    throw new ShapeError(`maskgitUpdate: masked = ${masked} outside 0..${HW}`);
  const nBase = Math.max(0, nMaskAfterStep(o.step, o.steps, masked));
  // tau·(1 − (i+1)/S) is a Python float (f64) that torch rounds to f32 when it multiplies the f32 noise
  const factor = o.tau * (1 - (o.step + 1) / o.steps);
  e.dispatch({
    code,
    entry: 'maskgit_update',
    bindings: [
      params({ rows: B, ...keysOf(o.seed, 2 * o.step + 1, B, 'maskgitUpdate'), HW, nBase, maskId: o.maskId, factor }),
      out,
      conf,
      logp,
      tokens,
      sampled,
    ],
    workgroups: [B],
    label: 'maskgit_update',
  });
  return { tokens: out, conf };
}
