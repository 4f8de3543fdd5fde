// Backward of matmul / linear (ops/matmul.ts), built on the forward tiled matmul with transposed operands:
//   linear y = x·Wᵀ + b:  dX = dY·W,  dW = dYᵀ·X (all rows of the batch at once),  d bias = Σ_rows dY
//   matmul C = op(A)·op(B): d op(A) = dC·op(B)ᵀ, d op(B) = op(A)ᵀ·dC, mapped back through the stored transposes.
// d bias is a column sum (shaders/matmul_backward.wgsl). Deterministic (no atomics anywhere).
import code from '../../../shaders/matmul_backward.wgsl?raw';
import type { BufferPool } from '../buffer_pool';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import { Tensor } from '../tensor';
import { matmul } from './matmul';

/** A non-owning reshaped view of t's buffer (disposing it does nothing); t must outlive it. */
function view(t: Tensor, shape: number[]): Tensor {
  return new Tensor(shape, t.dtype, t.buffer, NO_POOL, `${t.label}:view`);
}
const NO_POOL = { release() {} } as unknown as BufferPool;

/** The pooled result tensor `r` re-labelled with another shape of the same size (r must not be used afterwards). */
function reshapeOwned(e: Engine, r: Tensor, shape: readonly number[]): Tensor {
  return new Tensor([...shape], r.dtype, r.buffer, e.pool, r.label);
}

/** d bias (N) = Σ over rows of dy (…, N). */
export function sumRows(e: Engine, dy: Tensor): Tensor {
  const N = dy.shape[dy.shape.length - 1] ?? 0;
  if (dy.dtype !== 'f32' || N === 0) throw new ShapeError(`sumRows: dy must be f32 (…, N), got ${dy}`);
  const out = e.empty([N], 'f32', 'dbias');
  e.dispatch({
    code,
    bindings: [uniforms([dy.size / N, N, 0, 0]), dy, out],
    workgroups: grid1d(Math.ceil(N / 256)),
    label: 'dbias',
  });
  return out;
}

export interface LinearGrads {
  dx: Tensor | null; //  like x
  dW: Tensor; //         (N, K)
  dBias: Tensor | null; // (N)
}

/** Gradients of y = x·Wᵀ (+ b): x (…, K), weight (N, K), dy (…, N). `needDx: false` skips dX (first layer). */
export function linearBackward(
  e: Engine,
  x: Tensor,
  weight: Tensor,
  dy: Tensor,
  opts: { bias?: boolean; needDx?: boolean } = {},
): LinearGrads {
  const K = x.shape[x.shape.length - 1] ?? 0;
  const [N, Kw] = weight.shape as [number, number];
  const rows = K === 0 ? 0 : x.size / K;
  if (weight.shape.length !== 2 || Kw !== K || dy.size !== rows * N || dy.shape[dy.shape.length - 1] !== N)
    throw new ShapeError(`linearBackward: want x (…, K), W (N, K), dy (…, N); got ${x}, ${weight}, ${dy}`);
  const x2 = view(x, [rows, K]);
  const dy2 = view(dy, [rows, N]);
  // (…, K)
  const dx = opts.needDx === false ? null : reshapeOwned(e, matmul(e, dy2, weight, { label: 'linear_dx' }), x.shape);
  const dW = matmul(e, dy2, x2, { transA: true, label: 'linear_dW' }); // (N, K) = dYᵀ·X
  return { dx, dW, dBias: opts.bias ? sumRows(e, dy) : null };
}

export interface MatmulGrads {
  dA: Tensor; // like A
  dB: Tensor; // like B
}

/** Gradients of C = op(A)·op(B) (ops/matmul.ts `matmul`, no bias). A 2-D B broadcast over a 3-D A is supported when
 *  A is not transposed (the batch folds into rows); a broadcast A is not. */
export function matmulBackward(
  e: Engine,
  a: Tensor,
  b: Tensor,
  dC: Tensor,
  opts: { transA?: boolean; transB?: boolean } = {},
): MatmulGrads {
  const tA = !!opts.transA;
  const tB = !!opts.transB;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra === 2 && rb === 3) throw new ShapeError('matmulBackward: a broadcast A (2-D with a 3-D B) is not supported');
  if (ra === 3 && rb === 2) {
    if (tA) throw new ShapeError('matmulBackward: a broadcast B needs an untransposed A');
    const [z, M, K] = a.shape as [number, number, number];
    const N = dC.shape[2]!;
    const a2 = view(a, [z * M, K]);
    const dC2 = view(dC, [z * M, N]);
    const dA = reshapeOwned(e, matmul(e, dC2, b, { transB: !tB, label: 'matmul_dA' }), a.shape);
    const dB = tB
      ? matmul(e, dC2, a2, { transA: true, label: 'matmul_dB' })
      : matmul(e, a2, dC2, { transA: true, label: 'matmul_dB' });
    return { dA, dB };
  }
  // same batch (or both 2-D): batched matmuls
  const dA = tA
    ? matmul(e, b, dC, { transA: tB, transB: true, label: 'matmul_dA' })
    : matmul(e, dC, b, { transB: !tB, label: 'matmul_dA' });
  const dB = tB
    ? matmul(e, dC, a, { transA: true, transB: tA, label: 'matmul_dB' })
    : matmul(e, a, dC, { transA: !tA, label: 'matmul_dB' });
  return { dA, dB };
}
