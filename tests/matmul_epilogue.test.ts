// The matmul's fused epilogues and in-place column slice (inference fusions of issue 18) vs their f64 CPU
// references and vs the unfused chains they replace: linearGatedResidual (out-projection + adaLN-Zero residual),
// linearGeglu (GEGLU up-projection on row-interleaved weights), aColumns (dt_proj reading x_dbl's dt columns);
// ragged sizes around the 64-wide tile, both bigger tiles, and a device with WebGPU's default limits.
import { describe, expect, it } from 'vitest';
import { acquireDevice } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import { geglu } from '../src/engine/ops/geglu';
import {
  interleaveGegluRows,
  linear,
  linearGatedResidual,
  linearGeglu,
  matmul,
  type Tile,
} from '../src/engine/ops/matmul';
import { gatedResidual } from '../src/engine/ops/model_glue';
import { sliceColumns } from '../src/engine/ops/split_columns';
import { linearGatedResidualRef, linearGegluRef, matmulRef } from '../src/engine/reference/matmul';
import { dawnInstance, expectClose, freshSeed, getEngine, normalisedError, poison, randn } from './gpu';

// As tests/matmul.test.ts: f32 sums of ≤ 300 products of values in [-1, 1) are ~1e-6 of the largest output; one
// more product (gate) or one tanh adds a few ulp. A wrong gate row, a swapped GEGLU half or a wrong stride is O(1).
const TOL = 1e-5;
// Fused vs the unfused kernels: the same f32 operations, but the GPU may contract a·b + c into an fma differently.
const TOL_UNFUSED = 1e-6;

function poisonNext(e: Engine, shape: number[]): void {
  const p = e.empty(shape);
  poison(e, p);
  p.dispose();
}

describe('matmul epilogues', () => {
  // (B, L, K, N, tile): L not a multiple of 64 so a tile's rows span two gate rows; N ragged
  const CASES: Array<[number, number, number, number, Tile | undefined]> = [
    [1, 1, 1, 1, undefined],
    [2, 37, 33, 67, undefined],
    [3, 50, 70, 130, '128x64'],
    [2, 90, 17, 129, '128x128'],
  ];
  for (const [B, L, K, N, tile] of CASES)
    it(`linearGatedResidual B=${B} L=${L} K=${K} N=${N} tile=${tile ?? 'auto'}`, async () => {
      const e = await getEngine();
      const seed = freshSeed();
      const off = 3; // the gate is a column slice of a wider packed tensor (adaLN's [shift ; scale ; gate])
      const Wg = N + off + 2;
      const x = randn(B * L * K, seed);
      const w = randn(N * K, seed + 1);
      const bias = randn(N, seed + 2);
      const h = randn(B * L * N, seed + 3, -3, 3);
      const gate = randn(B * Wg, seed + 4, -2, 2);
      const [tx, tw, tb, th, tg] = [
        e.fromArray([B, L, K], x),
        e.fromArray([N, K], w),
        e.fromArray([N], bias),
        e.fromArray([B, L, N], h),
        e.fromArray([B, Wg], gate),
      ];
      poisonNext(e, [B, L, N]);
      const what = `B=${B} L=${L} K=${K} N=${N} seed=${seed}`;
      const want = linearGatedResidualRef(x, w, bias, h, gate, { B, L, N, offset: off });
      for (const withBias of [true, false]) {
        const out = linearGatedResidual(e, tx, tw, withBias ? tb : null, th, { tensor: tg, offset: off }, { tile });
        const ref = withBias ? want : linearGatedResidualRef(x, w, null, h, gate, { B, L, N, offset: off });
        expectClose(await e.readF32(out), ref, TOL, `${what} bias=${withBias}`);
        out.dispose();
      }
      // the unfused chain it replaces
      const y = linear(e, tx, tw, tb);
      const un = gatedResidual(e, th, { tensor: tg, offset: off }, y);
      const fused = linearGatedResidual(e, tx, tw, tb, th, { tensor: tg, offset: off });
      expect(normalisedError(await e.readF32(fused), await e.readF32(un)), `fused vs unfused ${what}`).toBeLessThan(
        TOL_UNFUSED,
      );
      for (const t of [tx, tw, tb, th, tg, y, un, fused]) t.dispose();
    });

  for (const [R, K, F, tile] of [
    [1, 1, 1, undefined],
    [5, 33, 3, undefined],
    [70, 20, 65, '128x64'],
    [130, 64, 131, '128x128'],
  ] as const)
    it(`linearGeglu R=${R} K=${K} F=${F} tile=${tile ?? 'auto'}`, async () => {
      const e = await getEngine();
      const seed = freshSeed();
      const x = randn(R * K, seed);
      const w = randn(2 * F * K, seed + 1);
      const bias = randn(2 * F, seed + 2);
      const [tx, tw, tb] = [e.fromArray([R, K], x), e.fromArray([2 * F, K], w), e.fromArray([2 * F], bias)];
      const [twi, tbi] = [
        e.fromArray([2 * F, K], interleaveGegluRows(w, F)),
        e.fromArray([2 * F], interleaveGegluRows(bias, F)),
      ];
      poisonNext(e, [R, F]);
      const out = linearGeglu(e, tx, twi, tbi, { tile });
      expect(out.shape).toEqual([R, F]);
      const what = `R=${R} K=${K} F=${F} seed=${seed}`;
      expectClose(await e.readF32(out), linearGegluRef(x, w, bias, F), TOL, what);
      const pre = linear(e, tx, tw, tb);
      const un = geglu(e, pre);
      expect(normalisedError(await e.readF32(out), await e.readF32(un)), `fused vs unfused ${what}`).toBeLessThan(
        TOL_UNFUSED,
      );
      for (const t of [tx, tw, tb, twi, tbi, out, pre, un]) t.dispose();
    });

  it('interleaveGegluRows puts row f at 2f and row F + f at 2f + 1', () => {
    const w = Float32Array.from({ length: 6 * 2 }, (_, i) => i); // (2F = 6, K = 2)
    expect(Array.from(interleaveGegluRows(w, 3))).toEqual([0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]);
  });

  for (const [batch, M, S, R, N] of [
    [1, 3, 5, 1, 4],
    [8, 67, 18, 16, 70], // M-Mamba's x_dbl (B·K, L, R + 2N) → dt (B·K, L, di)
  ] as const)
    it(`aColumns: batched A[..., :${R}] of (${batch}, ${M}, ${S}) read in place`, async () => {
      const e = await getEngine();
      const seed = freshSeed();
      const a = randn(batch * M * S, seed);
      const b = randn(batch * N * R, seed + 1);
      const [ta, tb] = [e.fromArray([batch, M, S], a), e.fromArray([batch, N, R], b)];
      poisonNext(e, [batch, M, N]);
      const got = matmul(e, ta, tb, { transB: true, aColumns: R });
      const sliced = new Float32Array(batch * M * R);
      for (let r = 0; r < batch * M; r++) sliced.set(a.subarray(r * S, r * S + R), r * R);
      const what = `batch=${batch} M=${M} S=${S} R=${R} N=${N} seed=${seed}`;
      expectClose(await e.readF32(got), matmulRef(sliced, b, { M, N, K: R, batch, transB: true }), TOL, what);
      const cut = sliceColumns(e, ta, 0, R);
      const un = matmul(e, cut, tb, { transB: true });
      expect(normalisedError(await e.readF32(got), await e.readF32(un)), `vs slice + matmul ${what}`).toBe(0);
      expect(() => matmul(e, ta, tb, { transB: true, aColumns: S + 1 })).toThrow(/aColumns/);
      expect(() => matmul(e, ta, tb, { transA: true, aColumns: 1 })).toThrow(/aColumns/);
      for (const t of [ta, tb, got, cut, un]) t.dispose();
    });

  it('aRows: rows [start, start + count) of every batch read in place, with bias (the head on h[:, Lt:])', async () => {
    const e = await getEngine();
    const seed = freshSeed();
    const [B, L, K, start, count, N] = [2, 77, 20, 13, 64, 70];
    const a = randn(B * L * K, seed);
    const w = randn(N * K, seed + 1);
    const bias = randn(N, seed + 2);
    const [ta, tw, tb] = [e.fromArray([B, L, K], a), e.fromArray([N, K], w), e.fromArray([N], bias)];
    poisonNext(e, [B, count, N]);
    const got = matmul(e, ta, tw, { transB: true, bias: tb, aRows: { start, count } });
    expect(got.shape).toEqual([B, count, N]);
    const rows = new Float32Array(B * count * K);
    for (let b = 0; b < B; b++) rows.set(a.subarray((b * L + start) * K, (b * L + start + count) * K), b * count * K);
    const what = `B=${B} L=${L} rows [${start}, ${start + count}) seed=${seed}`;
    expectClose(await e.readF32(got), matmulRef(rows, w, { M: B * count, N, K, transB: true, bias }), TOL, what);
    expect(() => matmul(e, ta, tw, { transB: true, aRows: { start: 70, count: 8 } })).toThrow(/aRows/);
    for (const t of [ta, tw, tb, got]) t.dispose();
  });

  it('validates and runs under WebGPU default limits (6 storage buffers of 8, 256 invocations)', async () => {
    await getEngine(); // creates the shared Dawn instance
    const ctx = await acquireDevice(dawnInstance!, { defaultLimitsOnly: true, label: 'default-limits-epilogue' });
    const e = new Engine(ctx);
    try {
      const seed = freshSeed();
      const [B, L, K, N] = [2, 20, 24, 40];
      const x = randn(B * L * K, seed);
      const w = randn(N * K, seed + 1);
      const h = randn(B * L * N, seed + 2);
      const gate = randn(B * N, seed + 3);
      const out = await e.checked(() =>
        linearGatedResidual(e, e.fromArray([B, L, K], x), e.fromArray([N, K], w), null, e.fromArray([B, L, N], h), {
          tensor: e.fromArray([B, N], gate),
          offset: 0,
        }),
      );
      const want = linearGatedResidualRef(x, w, null, h, gate, { B, L, N, offset: 0 });
      expectClose(await e.readF32(out), want, TOL, `gated residual, default limits seed=${seed}`);
      const wi = randn(N * K, seed + 4);
      const g = await e.checked(() =>
        linearGeglu(e, e.fromArray([B * L, K], x), e.fromArray([N, K], interleaveGegluRows(wi, N / 2)), null),
      );
      expectClose(await e.readF32(g), linearGegluRef(x, wi, null, N / 2), TOL, `geglu, default limits seed=${seed}`);
    } finally {
      e.dispose();
      ctx.device.destroy();
    }
  });
});
