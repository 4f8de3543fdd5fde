// Matrix multiply and Linear layers (shaders/matmul.wgsl): C = op(A) · op(B) (+ bias), batched, with optional
// transposed operands. `linear` is the PyTorch nn.Linear convention used by the models: y = x · W^T + b.
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
}

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
}

function gemm(e: Engine, a: Tensor, b: Tensor, g: Gemm, outShape: number[], opts: MatmulOptions): Tensor {
  const bias = opts.bias ?? null;
  if (bias) {
    checkF32(bias, 'bias');
    if (bias.size !== g.N) throw new ShapeError(`matmul: bias ${bias} must have N = ${g.N} elements`);
  }
  const out = e.empty(outShape, 'f32', opts.label ?? 'matmul');
  if (g.M === 0 || g.N === 0 || g.batch === 0) return out;
  const tile = TILES[opts.tile ?? pickTile(g.M, g.N, g.batch)];
  e.dispatch({
    code: tile.code,
    constants: { TRANS_A: opts.transA ? 1 : 0, TRANS_B: opts.transB ? 1 : 0, HAS_BIAS: bias ? 1 : 0 },
    bindings: [
      uniforms([g.M, g.N, g.K, g.sA, g.sB, g.M * g.N, 0, 0]),
      a,
      b,
      bias ?? b, // unused when HAS_BIAS = 0, but the binding must exist
      out,
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
  const [M, K] = opts.transA ? [a1, a0] : [a0, a1];
  const [Kb, N] = opts.transB ? [b1, b0] : [b0, b1];
  if (K !== Kb)
    throw new ShapeError(`matmul: inner dims differ (${a}${opts.transA ? '^T' : ''} · ${b}${opts.transB ? '^T' : ''})`);
  const outShape = ra === 2 && rb === 2 ? [M, N] : [batch, M, N];
  return gemm(e, a, b, { M, N, K, batch, sA: ra === 3 ? M * K : 0, sB: rb === 3 ? K * N : 0 }, outShape, opts);
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
