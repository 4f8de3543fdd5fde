// linear / matmul backward (forward matmul with transposes + column sums) vs the f64 definitions, outputs poisoned;
// the reference vs central differences.
import { describe, it } from 'vitest';
import { linearBackward, matmulBackward } from '../src/engine/ops/matmul_backward';
import { matmul64, matmulBackwardRef, type MatmulShape } from '../src/engine/reference/matmul_backward';
import { dot, fdGrad } from './fd_backward';
import { expectClose, freshSeed, getEngine, randn } from './gpu';
import { poisonNext } from './kernel_helpers';

// f32 dot products over ≤ 300 terms (the forward matmul's own tolerance class): 1e-5 of the largest gradient.
const TOL = 1e-5;
const FD_TOL = 1e-7;

describe('matmul backward', () => {
  it('linear: dX = dY·W, dW = dYᵀ·X over all rows, d bias = Σ dY', async () => {
    const e = await getEngine();
    for (const [B, L, K, N] of [
      [1, 1, 1, 1],
      [2, 3, 5, 7],
      [2, 70, 33, 130],
      [1, 300, 64, 16],
    ] as const) {
      const seed = freshSeed();
      const x = randn(B * L * K, seed);
      const w = randn(N * K, seed + 1);
      const dy = randn(B * L * N, seed + 2);
      const tx = e.fromArray([B, L, K], x);
      const tw = e.fromArray([N, K], w);
      const tdy = e.fromArray([B, L, N], dy);
      poisonNext(e, [[B * L, K], [N, K], [N]]);
      const g = linearBackward(e, tx, tw, tdy, { bias: true });
      const want = matmulBackwardRef(x, w, dy, { M: B * L, N, K, batch: 1, transB: true });
      const what = `B=${B} L=${L} K=${K} N=${N} seed=${seed}`;
      if (g.dx!.shape.join() !== [B, L, K].join()) throw new Error(`dx shape ${g.dx}`);
      expectClose(await e.readF32(g.dx!), want.dA, TOL, `${what} dX`);
      expectClose(await e.readF32(g.dW), want.dB, TOL, `${what} dW`);
      expectClose(await e.readF32(g.dBias!), want.dBias, TOL, `${what} dBias`);
      for (const t of [tx, tw, tdy, g.dx, g.dW, g.dBias]) t?.dispose();
    }
  });

  it('matmul with every transpose combination, batched and with a broadcast B', async () => {
    const e = await getEngine();
    for (const broadcastB of [false, true])
      for (const transA of broadcastB ? [false] : [false, true])
        for (const transB of [false, true]) {
          const seed = freshSeed();
          const s: MatmulShape = { M: 19, N: 23, K: 37, batch: 3, transA, transB, broadcastB };
          const a = randn(s.batch * s.M * s.K, seed);
          const b = randn((broadcastB ? 1 : s.batch) * s.K * s.N, seed + 1);
          const dC = randn(s.batch * s.M * s.N, seed + 2);
          const ta = e.fromArray(transA ? [s.batch, s.K, s.M] : [s.batch, s.M, s.K], a);
          const bShape = transB ? [s.N, s.K] : [s.K, s.N];
          const tb = e.fromArray(broadcastB ? bShape : [s.batch, ...bShape], b);
          const tdC = e.fromArray([s.batch, s.M, s.N], dC);
          poisonNext(e, [
            [s.batch, s.M, s.K],
            [s.batch, s.K, s.N],
            [s.K, s.N],
          ]);
          const g = matmulBackward(e, ta, tb, tdC, { transA, transB });
          const want = matmulBackwardRef(a, b, dC, s);
          const what = `transA=${transA} transB=${transB} broadcastB=${broadcastB} seed=${seed}`;
          expectClose(await e.readF32(g.dA), want.dA, TOL, `${what} dA`);
          expectClose(await e.readF32(g.dB), want.dB, TOL, `${what} dB`);
          for (const t of [ta, tb, tdC, g.dA, g.dB]) t.dispose();
        }
  });

  it('reference vs finite differences', () => {
    const seed = freshSeed();
    const s: MatmulShape = { M: 3, N: 4, K: 5, batch: 2, transA: true, transB: true, broadcastB: true };
    const a = randn(2 * 3 * 5, seed);
    const b = randn(4 * 5, seed + 1);
    const bias = randn(4, seed + 2);
    const dC = randn(2 * 3 * 4, seed + 3);
    const g = matmulBackwardRef(a, b, dC, s);
    expectClose(
      g.dA,
      fdGrad((v) => dot(matmul64(v, b, s, bias), dC), a),
      FD_TOL,
      `dA seed=${seed}`,
    );
    expectClose(
      g.dB,
      fdGrad((v) => dot(matmul64(a, v, s, bias), dC), b),
      FD_TOL,
      `dB seed=${seed}`,
    );
    expectClose(
      g.dBias,
      fdGrad((v) => dot(matmul64(a, b, s, v), dC), bias),
      FD_TOL,
      `dBias seed=${seed}`,
    );
  });
});
