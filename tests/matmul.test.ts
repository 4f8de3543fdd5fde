// matmul / linear vs the f64 CPU reference on fresh random inputs: every transpose combination, ragged edges
// (sizes that are not multiples of the 64×64 tile or of the K step 16), batches with and without broadcasting.
import { describe, it } from 'vitest';
import { linear, matmul, pickTile, type Tile } from '../src/engine/ops/matmul';
import { linearRef, matmulRef } from '../src/engine/reference/matmul';
import { expectClose, freshSeed, getEngine, poison, randn } from './gpu';

// f32 accumulation of K ≤ 140 products of values in [-1, 1): the error is ~sqrt(K)·2^-24 of the typical term
// sum, ~1e-6 of the largest output; 1e-5 leaves headroom, while a wrong index, a skipped k-step or a tile written
// twice (missing barrier) gives errors of order 1e-1 or more.
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
    [67, 65, 33],
    [131, 137, 35], // crosses the 128-wide tile edge in both directions
  ];
  // Every transpose combination on the default tile; the bigger tiles (each pipeline costs ~1 s to compile on
  // SwiftShader) on the Linear case (x·W^T) and on A^T·B, which between them exercise every load path.
  const COMBOS: Array<[Tile, boolean, boolean, boolean[]]> = [
    ['64x64', false, false, [false, true]],
    ['64x64', false, true, [false, true]],
    ['64x64', true, false, [false, true]],
    ['64x64', true, true, [false, true]],
    ['128x64', false, true, [true]],
    ['128x128', false, true, [true]],
    ['128x128', true, false, [true]],
  ];
  for (const [tile, transA, transB, biases] of COMBOS)
    it(`tile=${tile} transA=${transA} transB=${transB} bias=${biases}`, async () => {
      const e = await getEngine();
      for (const [M, N, K] of SHAPES) {
        const seed = freshSeed();
        const a = randn(M * K, seed);
        const b = randn(K * N, seed + 1);
        const bias = randn(N, seed + 2);
        const ta = e.fromArray(transA ? [K, M] : [M, K], a);
        const tb = e.fromArray(transB ? [N, K] : [K, N], b);
        const tbias = e.fromArray([N], bias);
        for (const withBias of biases) {
          poisonNext(e, [M, N]);
          const c = matmul(e, ta, tb, { transA, transB, bias: withBias ? tbias : null, tile });
          const want = matmulRef(a, b, { M, N, K, transA, transB, bias: withBias ? bias : null });
          expectClose(await e.readF32(c), want, TOL, `M=${M} N=${N} K=${K} bias=${withBias} seed=${seed}`);
          c.dispose();
        }
        ta.dispose();
        tb.dispose();
        tbias.dispose();
      }
    });

  it('picks bigger tiles only for big problems', () => {
    if (pickTile(544, 256, 1) !== '64x64' || pickTile(8704, 2048, 1) !== '128x128') throw new Error('pickTile');
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
      [
        'both batched, 128x128',
        () => matmul(e, ta, tb, { tile: '128x128', transB: false }),
        matmulRef(a, b, { M, N, K, batch: Z }),
      ],
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
