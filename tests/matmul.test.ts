// matmul / linear vs the f64 CPU reference on fresh random inputs: every transpose combination, ragged edges
// (sizes that are not multiples of the 64×64 tile or of the K step 16), batches with and without broadcasting.
import { describe, it } from 'vitest';
import { linear, matmul } from '../src/engine/ops/matmul';
import { linearRef, matmulRef } from '../src/engine/reference/matmul';
import { expectClose, freshSeed, getEngine, poison, randn } from './gpu';

// f32 accumulation of K products of values in [-1, 1): the rounding error grows like sqrt(K)·2^-24·|terms| and the
// outputs are of size sqrt(K)/sqrt(3)·... ; 1e-5 of the largest output leaves ~10× headroom at K ≤ 200, while a
// wrong index or a missed k-step gives errors of order 1.
const TOL = 1e-5;

/** Puts NaN into the next output by poisoning a pooled buffer of the same size first. */
function poisonNext(e: Awaited<ReturnType<typeof getEngine>>, shape: number[]): void {
  const p = e.empty(shape);
  poison(e, p);
  p.dispose();
}

describe('matmul', () => {
  const SHAPES: Array<[number, number, number]> = [
    [1, 1, 1],
    [5, 7, 3],
    [64, 64, 16],
    [67, 65, 33],
    [130, 70, 17],
  ];
  for (const transA of [false, true])
    for (const transB of [false, true])
      it(`transA=${transA} transB=${transB} with bias`, async () => {
        const e = await getEngine();
        for (const [M, N, K] of SHAPES) {
          const seed = freshSeed();
          const a = randn(M * K, seed);
          const b = randn(K * N, seed + 1);
          const bias = randn(N, seed + 2);
          const ta = e.fromArray(transA ? [K, M] : [M, K], a);
          const tb = e.fromArray(transB ? [N, K] : [K, N], b);
          const tbias = e.fromArray([N], bias);
          for (const withBias of [false, true]) {
            poisonNext(e, [M, N]);
            const c = matmul(e, ta, tb, { transA, transB, bias: withBias ? tbias : null });
            const want = matmulRef(a, b, { M, N, K, transA, transB, bias: withBias ? bias : null });
            expectClose(await e.readF32(c), want, TOL, `M=${M} N=${N} K=${K} bias=${withBias} seed=${seed}`);
            c.dispose();
          }
          ta.dispose();
          tb.dispose();
          tbias.dispose();
        }
      });

  it('batched, per-batch operands and broadcast of either operand', async () => {
    const e = await getEngine();
    const [Z, M, N, K] = [3, 37, 70, 19];
    const seed = freshSeed();
    const a = randn(Z * M * K, seed);
    const b = randn(Z * K * N, seed + 1);
    const ta = e.fromArray([Z, M, K], a);
    const tb = e.fromArray([Z, K, N], b);
    const tb1 = e.fromArray([K, N], b.subarray(0, K * N));
    const ta1 = e.fromArray([M, K], a.subarray(0, M * K));
    const cases: Array<[string, () => ReturnType<typeof matmul>, Float32Array]> = [
      ['both batched', () => matmul(e, ta, tb), matmulRef(a, b, { M, N, K, batch: Z })],
      ['B broadcast', () => matmul(e, ta, tb1), matmulRef(a, b.subarray(0, K * N), { M, N, K, batch: Z })],
      ['A broadcast', () => matmul(e, ta1, tb), matmulRef(a.subarray(0, M * K), b, { M, N, K, batch: Z })],
    ];
    for (const [what, run, want] of cases) {
      poisonNext(e, [Z, M, N]);
      expectClose(await e.readF32(run()), want, TOL, `${what} seed=${seed}`);
    }
  });

  it('linear = x · W^T + b over the last dim of a 3-D x', async () => {
    const e = await getEngine();
    const [B, L, K, N] = [2, 9, 40, 66];
    const seed = freshSeed();
    const x = randn(B * L * K, seed);
    const w = randn(N * K, seed + 1);
    const bias = randn(N, seed + 2);
    poisonNext(e, [B, L, N]);
    const y = linear(e, e.fromArray([B, L, K], x), e.fromArray([N, K], w), e.fromArray([N], bias));
    if (y.shape.join() !== [B, L, N].join()) throw new Error(`linear shape ${y.shape}`);
    expectClose(await e.readF32(y), linearRef(x, w, bias, N), TOL, `linear seed=${seed}`);
  });
});
