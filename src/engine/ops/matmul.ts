// Matrix multiply and Linear layers (shaders/matmul.wgsl): C = op(A) · op(B) (+ bias), batched, with optional
// transposed operands. `linear` is the PyTorch nn.Linear convention used by the models: y = x · W^T + b.
// Fused epilogues (inference): `linearGatedResidual` (out-projection + adaLN-Zero residual) and `linearGeglu`
// (GEGLU up-projection, weights row-interleaved by `interleaveGegluRows`); `aColumns` reads a column slice of A in
// place. Each saves one elementwise dispatch and one round trip of the activation through memory.
import source from '../../../shaders/matmul.wgsl?raw';
import { uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

export interface MatmulOptions {
  /** A is stored (…, K, M) and used transposed. */
  transA?: boolean;
  /** B is stored (…, N, K) and used transposed (PyTorch Linear weights). */
  transB?: boolean;
  /** (N) added to every output row. */
  bias?: Tensor | null;
  label?: string;
  /** Force a tile shape (tests and benchmarks); by default chosen from the problem size, see `pickTile`. */
  tile?: Tile;
  /** Use only the first `aColumns` columns of A (stored (…, M, K') with K' ≥ aColumns; not with transA): the slice
   *  A[..., :aColumns] read in place. */
  aColumns?: number;
  /** Use only rows start..start+count of every batch of A (stored (batch, M', K), not with transA): the slice
   *  A[:, start : start + count] read in place; the output has `count` rows. */
  aRows?: { start: number; count: number };
}

/** A column slice of a packed (B, W) tensor: columns offset..offset+D of each batch row (as norm.ts ColumnSlice). */
export interface GateSlice {
  tensor: Tensor;
  offset: number;
}

/** The matmul's epilogue (shaders/matmul.wgsl EPILOGUE). */
type Epilogue =
  | { kind: 'none' }
  | { kind: 'gated_residual'; residual: Tensor; gate: Tensor; rowsPerGate: number; gateW: number; gateOff: number }
  | { kind: 'geglu' };

/** Output tile per workgroup of 256 threads: 64×64 (4×4 per thread), 128×64 (8×4), 128×128 (8×8). */
export type Tile = '64x64' | '128x64' | '128x128';
const TILES: Record<Tile, { bm: number; bn: number; code: string }> = {
  '64x64': { bm: 64, bn: 64, code: variant(1, 1) },
  '128x64': { bm: 128, bn: 64, code: variant(2, 1) },
  '128x128': { bm: 128, bn: 128, code: variant(2, 2) },
};

function variant(tm4: number, tn4: number): string {
  return source.replace('/*TM4*/1u', `${tm4}u`).replace('/*TN4*/1u', `${tn4}u`);
}

/** Bigger tiles do more FMAs per shared-memory read but make fewer workgroups: use them only when even the big
 *  tiles give several workgroups per compute unit on a large GPU (~132 SMs on an H200; ~500 = 4 waves). */
export function pickTile(M: number, N: number, batch: number): Tile {
  const count = (bm: number, bn: number) => Math.ceil(M / bm) * Math.ceil(N / bn) * batch;
  if (count(128, 128) >= 512) return '128x128';
  if (count(128, 64) >= 512) return '128x64';
  return '64x64';
}

function checkF32(t: Tensor, what: string): void {
  if (t.dtype !== 'f32') throw new ShapeError(`matmul: ${what} must be f32, got ${t}`);
}

interface Gemm {
  M: number;
  N: number;
  K: number;
  batch: number;
  /** Element strides between batches (0 = broadcast). */
  sA: number;
  sB: number;
  /** A's stored row width (default K, or M with transA). */
  lda?: number;
  /** Elements skipped at the start of every batch of A (a row range read in place). */
  aOff?: number;
}

function gemm(
  e: Engine,
  a: Tensor,
  b: Tensor,
  g: Gemm,
  outShape: number[],
  opts: MatmulOptions,
  epi: Epilogue = { kind: 'none' },
): Tensor {
  const bias = opts.bias ?? null;
  if (bias) {
    checkF32(bias, 'bias');
    if (bias.size !== g.N) throw new ShapeError(`matmul: bias ${bias} must have N = ${g.N} elements`);
  }
  const out = e.empty(outShape, 'f32', opts.label ?? 'matmul');
  if (g.M === 0 || g.N === 0 || g.batch === 0) return out;
  const tile = TILES[opts.tile ?? pickTile(g.M, g.N, g.batch)];
  const ldc = epi.kind === 'geglu' ? g.N / 2 : g.N;
  const lda = g.lda ?? (opts.transA ? g.M : g.K);
  const gr = epi.kind === 'gated_residual' ? epi : null;
  e.dispatch({
    code: tile.code,
    constants: {
      TRANS_A: opts.transA ? 1 : 0,
      TRANS_B: opts.transB ? 1 : 0,
      HAS_BIAS: bias ? 1 : 0,
      EPILOGUE: epi.kind === 'none' ? 0 : gr ? 1 : 2,
    },
    bindings: [
      uniforms([
        g.M,
        g.N,
        g.K,
        g.sA,
        g.sB,
        g.M * ldc,
        lda,
        ldc,
        gr?.rowsPerGate ?? 1,
        gr?.gateW ?? 0,
        gr?.gateOff ?? 0,
        g.aOff ?? 0,
      ]),
      a,
      b,
      bias ?? b, // unused when HAS_BIAS = 0, but the binding must exist
      out,
      gr?.residual ?? b, // unused unless EPILOGUE = 1
      gr?.gate ?? b,
    ],
    workgroups: [Math.ceil(g.N / tile.bn), Math.ceil(g.M / tile.bm), g.batch],
    label: opts.label ?? 'matmul',
  });
  return out;
}

/**
 * C = op(A) · op(B) (+ bias).
 * A: (M, K) or (batch, M, K) (transA: (K, M) / (batch, K, M)).
 * B: (K, N) or (batch, K, N) (transB: (N, K) / (batch, N, K)); a 2-D operand is broadcast over the other's batch.
 * Returns (M, N) if both are 2-D, else (batch, M, N).
 */
export function matmul(e: Engine, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  checkF32(a, 'A');
  checkF32(b, 'B');
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || ra > 3 || rb < 2 || rb > 3) throw new ShapeError(`matmul takes 2-D or 3-D operands, got ${a} and ${b}`);
  const batchA = ra === 3 ? a.shape[0]! : 1;
  const batchB = rb === 3 ? b.shape[0]! : 1;
  if (ra === 3 && rb === 3 && batchA !== batchB)
    throw new ShapeError(`matmul: batch sizes differ (${a} vs ${b}); pass a 2-D operand to broadcast it`);
  const batch = Math.max(batchA, batchB);
  const [a0, a1] = [a.shape[ra - 2]!, a.shape[ra - 1]!];
  const [b0, b1] = [b.shape[rb - 2]!, b.shape[rb - 1]!];
  let [M, K] = opts.transA ? [a1, a0] : [a0, a1];
  const lda = a1;
  if (opts.aColumns !== undefined) {
    if (opts.transA || !Number.isInteger(opts.aColumns) || opts.aColumns < 1 || opts.aColumns > K)
      throw new ShapeError(`matmul: aColumns ${opts.aColumns} must be in [1, ${K}] and without transA (A ${a})`);
    K = opts.aColumns;
  }
  let aOff = 0;
  if (opts.aRows) {
    const { start, count } = opts.aRows;
    if (
      opts.transA ||
      !Number.isInteger(start) ||
      !Number.isInteger(count) ||
      start < 0 ||
      count < 1 ||
      start + count > M
    )
      throw new ShapeError(`matmul: aRows [${start}, ${start + count}) must lie in [0, ${M}), without transA (A ${a})`);
    M = count;
    aOff = start * lda;
  }
  const [Kb, N] = opts.transB ? [b1, b0] : [b0, b1];
  if (K !== Kb)
    throw new ShapeError(`matmul: inner dims differ (${a}${opts.transA ? '^T' : ''} · ${b}${opts.transB ? '^T' : ''})`);
  const outShape = ra === 2 && rb === 2 ? [M, N] : [batch, M, N];
  const g = { M, N, K, batch, sA: ra === 3 ? a0 * a1 : 0, sB: rb === 3 ? K * N : 0, lda, aOff };
  return gemm(e, a, b, g, outShape, opts);
}

/**
 * PyTorch nn.Linear: y = x · W^T + b over the last dim of x.
 * x: (…, K); weight: (N, K); bias: (N) or null. Returns (…, N).
 */
export function linear(e: Engine, x: Tensor, weight: Tensor, bias: Tensor | null = null, label = 'linear'): Tensor {
  checkF32(x, 'x');
  checkF32(weight, 'weight');
  if (weight.shape.length !== 2 || x.shape.length < 1)
    throw new ShapeError(`linear: want x (…, K), W (N, K); got ${x}, ${weight}`);
  const K = x.shape[x.shape.length - 1]!;
  const [N, Kw] = weight.shape as [number, number];
  if (K !== Kw) throw new ShapeError(`linear: x ${x} has last dim ${K} but weight ${weight} expects ${Kw}`);
  const rows = K === 0 ? 0 : x.size / K; // x is contiguous: read as (rows, K)
  return gemm(e, x, weight, { M: rows, N, K, batch: 1, sA: 0, sB: 0 }, [...x.shape.slice(0, -1), N], {
    transB: true,
    bias,
    label,
  });
}

function linearDims(x: Tensor, weight: Tensor, what: string): { rows: number; N: number; K: number } {
  checkF32(x, 'x');
  checkF32(weight, 'weight');
  if (weight.shape.length !== 2 || x.shape.length < 1)
    throw new ShapeError(`${what}: want x (…, K), W (N, K); got ${x}, ${weight}`);
  const K = x.shape[x.shape.length - 1]!;
  const [N, Kw] = weight.shape as [number, number];
  if (K !== Kw) throw new ShapeError(`${what}: x ${x} has last dim ${K} but weight ${weight} expects ${Kw}`);
  return { rows: K === 0 ? 0 : x.size / K, N, K };
}

/**
 * The adaLN-Zero residual around a Linear in one dispatch: out = h + gate[b] · (x · W^T + bias), x (B, L, K),
 * W (N, K), h (B, L, N), gate.tensor (B, W') read at columns gate.offset..+N, broadcast over L
 * (= gatedResidual(h, gate, linear(x, W, bias))).
 */
export function linearGatedResidual(
  e: Engine,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  h: Tensor,
  gate: GateSlice,
  opts: { label?: string; tile?: Tile } = {},
): Tensor {
  const { rows, N, K } = linearDims(x, weight, 'linearGatedResidual');
  if (x.shape.length !== 3) throw new ShapeError(`linearGatedResidual: x must be (B, L, K), got ${x}`);
  const [B, L] = x.shape as [number, number, number];
  checkF32(h, 'h');
  if (h.shape.join() !== [B, L, N].join())
    throw new ShapeError(`linearGatedResidual: h ${h} must be (${B}, ${L}, ${N})`);
  const g = gate.tensor;
  checkF32(g, 'gate');
  const W = B === 0 ? 0 : g.size / B;
  if (!Number.isInteger(W) || gate.offset < 0 || gate.offset + N > W)
    throw new ShapeError(`linearGatedResidual: gate ${g} (offset ${gate.offset}) must be (B=${B}, W ≥ offset + ${N})`);
  const epi: Epilogue = {
    kind: 'gated_residual',
    residual: h,
    gate: g,
    rowsPerGate: L,
    gateW: W,
    gateOff: gate.offset,
  };
  return gemm(
    e,
    x,
    weight,
    { M: rows, N, K, batch: 1, sA: 0, sB: 0 },
    [B, L, N],
    {
      transB: true,
      bias,
      label: opts.label ?? 'linear_residual',
      tile: opts.tile,
    },
    epi,
  );
}

/**
 * GEGLU after a Linear in one dispatch: x (…, K), the interleaved weight Wi (2F, K) and bias bi (2F) of
 * `interleaveGegluRows` → (…, F) = geglu(x · W^T + b) for the original W (rows [GELU half ; multiplier half]).
 */
export function linearGeglu(
  e: Engine,
  x: Tensor,
  wi: Tensor,
  bi: Tensor | null,
  opts: { label?: string; tile?: Tile } = {},
): Tensor {
  const { rows, N, K } = linearDims(x, wi, 'linearGeglu');
  if (N % 2 !== 0) throw new ShapeError(`linearGeglu: the weight ${wi} must have an even number of rows`);
  const outShape = [...x.shape.slice(0, -1), N / 2];
  return gemm(
    e,
    x,
    wi,
    { M: rows, N, K, batch: 1, sA: 0, sB: 0 },
    outShape,
    {
      transB: true,
      bias: bi,
      label: opts.label ?? 'linear_geglu',
      tile: opts.tile,
    },
    {
      kind: 'geglu',
    },
  );
}

/** Rows of a GEGLU up-projection (2F, K) (or its bias (2F), K = 1) interleaved for `linearGeglu`: row 2f = row f
 *  (the GELU input), row 2f + 1 = row F + f (its multiplier). */
export function interleaveGegluRows(w: Float32Array, F: number): Float32Array {
  const K = w.length / (2 * F);
  if (!Number.isInteger(K)) throw new ShapeError(`interleaveGegluRows: ${w.length} values are not 2·${F} rows`);
  const out = new Float32Array(w.length);
  for (let f = 0; f < F; f++) {
    out.set(w.subarray(f * K, (f + 1) * K), 2 * f * K);
    out.set(w.subarray((F + f) * K, (F + f + 1) * K), (2 * f + 1) * K);
  }
  return out;
}
