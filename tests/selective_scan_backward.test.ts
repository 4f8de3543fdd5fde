// Selective-scan backward (plain and fused) vs the f64 reference (reference/selective_scan_backward.ts) on fresh
// random inputs, outputs poisoned; the reference vs central differences of its f64 forward; the f64 forward vs the
// shipped f32 forward reference (which tests/mmamba_scan_golden.test.ts ties to PyTorch).
import { describe, it } from 'vitest';
import { acquireDevice } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import { seqLen, type ScanGrid } from '../src/engine/ops/cross_scan_geom';
import {
  selectiveScanBackward,
  selectiveScanFusedBackward,
  type ScanGrads,
} from '../src/engine/ops/selective_scan_backward';
import { crossScanRef, toScanOrderRef, toTokenOrderRef } from '../src/engine/reference/cross_scan';
import { selectiveScanRef } from '../src/engine/reference/selective_scan';
import {
  selectiveScan64,
  selectiveScanBackwardRef,
  type ScanRefGrads,
  type ScanRefInputs64,
} from '../src/engine/reference/selective_scan_backward';
import { dot, fdGrad } from './fd_backward';
import { dawnInstance, expectClose, freshSeed, getEngine } from './gpu';
import { inputs, poisonNext } from './kernel_helpers';

// f32 state and f32 reverse recurrence vs f64: both recurrences contract (a_t < 1), so rounding does not compound
// over L; the reductions (over ≤ 64 channels for dB/dC, over L·B for dA/dD/d dt_bias) add log-size error.
// Measured ≲ 3e-6 on SwiftShader; 5e-5 allows less accurate exp() on GPUs, while a wrong index, a skipped step or
// a stale checkpoint gives errors ≳ 1e-2.
const TOL = 5e-5;
// Central differences (h = 1e-5) of the f64 forward: ≲ 1e-8 relative.
const FD_TOL = 1e-6;

function make(seed: number, Bsz: number, K: number, L: number, di: number, N: number, R: number) {
  const S = R + 2 * N;
  const h = inputs(seed, {
    u: [Bsz * K * L * di, -2, 2],
    delta: [Bsz * K * L * di, -3, 2],
    A_log: [K * di * N, -0.5, Math.log(N) + 0.5],
    xdbl: [Bsz * K * L * S, -1.5, 1.5],
    D: [K * di, 0.5, 1.5],
    dtBias: [K * di, -4, 0],
    dy: [Bsz * K * L * di, -1, 1],
  });
  const cols = (off: number) => {
    const out = new Float32Array(Bsz * K * L * N);
    for (let r = 0; r < Bsz * K * L; r++) out.set(h.xdbl!.subarray(r * S + off, r * S + off + N), r * N);
    return out;
  };
  const ref: ScanRefInputs64 = {
    u: h.u!,
    delta: h.delta!,
    A_log: h.A_log!,
    B: cols(R),
    C: cols(R + N),
    D: h.D!,
    dtBias: h.dtBias!,
  };
  return { h, S, ref };
}

function upload(
  e: Engine,
  h: Record<string, Float32Array>,
  Bsz: number,
  K: number,
  L: number,
  di: number,
  N: number,
  S: number,
  R: number,
) {
  return {
    u: e.fromArray([Bsz, K, L, di], h.u!),
    delta: e.fromArray([Bsz, K, L, di], h.delta!),
    A_log: e.fromArray([K, di, N], h.A_log!),
    BC: e.fromArray([Bsz, K, L, S], h.xdbl!),
    D: e.fromArray([K, di], h.D!),
    deltaBias: e.fromArray([K, di], h.dtBias!),
    bOffset: R,
    cOffset: R + N,
  };
}

/** Expected dBC (B, K, L, S): dB / dC in their columns, zeros elsewhere. */
function packBC(
  g: { dB: ArrayLike<number>; dC: ArrayLike<number> },
  rows: number,
  N: number,
  S: number,
  R: number,
): Float64Array {
  const out = new Float64Array(rows * S);
  for (let r = 0; r < rows; r++)
    for (let n = 0; n < N; n++) {
      out[r * S + R + n] = g.dB[r * N + n]!;
      out[r * S + R + N + n] = g.dC[r * N + n]!;
    }
  return out;
}

async function compare(
  e: Engine,
  got: ScanGrads,
  want: ScanRefGrads,
  rows: number,
  N: number,
  S: number,
  R: number,
  what: string,
) {
  expectClose(await e.readF32(got.du), want.du, TOL, `${what} du`);
  expectClose(await e.readF32(got.ddelta), want.ddelta, TOL, `${what} ddelta`);
  expectClose(await e.readF32(got.dBC), packBC(want, rows, N, S, R), TOL, `${what} dBC`);
  expectClose(await e.readF32(got.dA_log), want.dA_log, TOL, `${what} dA_log`);
  expectClose(await e.readF32(got.dD), want.dD, TOL, `${what} dD`);
  expectClose(await e.readF32(got.dDeltaBias), want.dDtBias, TOL, `${what} dDeltaBias`);
}

const outShapes = (Bsz: number, K: number, L: number, di: number, N: number, S: number) => [
  [Bsz, K, L, di],
  [Bsz, K, L, di],
  [Bsz, K, L, S],
  [K, di, N],
  [K, di],
  [K, di],
];

describe('selective scan backward', () => {
  it('plain (scan order) vs the f64 reference', async () => {
    const e = await getEngine();
    const SHAPES: Array<[number, number, number, number, number, number]> = [
      // Bsz, K, L, di, N, R
      [1, 1, 1, 1, 1, 1],
      [1, 1, 17, 5, 4, 2],
      [2, 2, 33, 40, 16, 3], // L over two chunk boundaries, di over two workgroups with a ragged tail
      [1, 4, 50, 64, 16, 4],
    ];
    for (const [Bsz, K, L, di, N, R] of SHAPES) {
      const seed = freshSeed();
      const { h, S, ref } = make(seed, Bsz, K, L, di, N, R);
      const t = upload(e, h, Bsz, K, L, di, N, S, R);
      const dy = e.fromArray([Bsz, K, L, di], h.dy!);
      poisonNext(e, outShapes(Bsz, K, L, di, N, S));
      const got = selectiveScanBackward(e, t, dy);
      const want = selectiveScanBackwardRef(ref, h.dy!, Bsz, K, L, di, N);
      await compare(e, got, want, Bsz * K * L, N, S, R, `plain B=${Bsz} K=${K} L=${L} di=${di} N=${N} seed=${seed}`);
      for (const v of [...Object.values(t), dy, ...Object.values(got)]) if (typeof v === 'object') v.dispose();
    }
  });

  for (const textPosition of ['first', 'middle'] as const)
    it(`fused (token order, merged dy) vs the reference through explicit permutations, text ${textPosition}`, async () => {
      const e = await getEngine();
      const GRIDS: Array<[ScanGrid, number, number, number]> = [
        [{ textLen: 3, grid: 4, directions: 4, textPosition }, 1, 12, 8],
        [{ textLen: 5, grid: 6, directions: 2, textPosition }, 2, 40, 16],
        [{ textLen: 2, grid: 3, directions: 1, textPosition }, 1, 7, 3],
      ];
      for (const [grid, Bsz, di, N] of GRIDS) {
        const K = grid.directions;
        const L = seqLen(grid);
        const R = 2;
        const seed = freshSeed();
        const { h, S, ref } = make(seed, Bsz, K, L, di, N, R); // read as token order
        const dOut = h.dy!.subarray(0, Bsz * L * di); // (B, L, di)
        const t = upload(e, h, Bsz, K, L, di, N, S, R);
        const tdy = e.fromArray([Bsz, L, di], dOut);
        poisonNext(e, outShapes(Bsz, K, L, di, N, S));
        const got = selectiveScanFusedBackward(e, t, tdy, grid);
        const sc = (a: ArrayLike<number>, C: number) => toScanOrderRef(Float32Array.from(a), Bsz, L, C, grid);
        const tk = (a: ArrayLike<number>, C: number) => toTokenOrderRef(Float32Array.from(a), Bsz, L, C, grid);
        // per-direction inputs in scan order; dy_k = dOut gathered into scan order (the merge's backward)
        const refScan: ScanRefInputs64 = {
          ...ref,
          u: sc(ref.u, di),
          delta: sc(ref.delta, di),
          B: sc(ref.B, N),
          C: sc(ref.C, N),
        };
        const w = selectiveScanBackwardRef(
          refScan,
          crossScanRef(Float32Array.from(dOut), Bsz, L, di, grid),
          Bsz,
          K,
          L,
          di,
          N,
        );
        // back to token order (f32 rounding of the reference here is ~1e-7 relative, far below TOL)
        const want: ScanRefGrads = {
          ...w,
          du: Float64Array.from(tk(w.du, di)),
          ddelta: Float64Array.from(tk(w.ddelta, di)),
          dB: Float64Array.from(tk(w.dB, N)),
          dC: Float64Array.from(tk(w.dC, N)),
        };
        await compare(
          e,
          got,
          want,
          Bsz * K * L,
          N,
          S,
          R,
          `fused ${JSON.stringify(grid)} B=${Bsz} di=${di} N=${N} seed=${seed}`,
        );
        for (const v of [...Object.values(t), tdy, ...Object.values(got)]) if (typeof v === 'object') v.dispose();
      }
    });

  it('reference vs finite differences of the f64 forward; f64 forward vs the f32 forward reference', () => {
    const [Bsz, K, L, di, N] = [2, 2, 5, 3, 4];
    const seed = freshSeed();
    const { h, ref } = make(seed, Bsz, K, L, di, N, 1);
    const dy = h.dy!;
    const y64 = selectiveScan64(ref, Bsz, K, L, di, N);
    const y32 = selectiveScanRef(
      {
        ...ref,
        u: h.u!,
        delta: h.delta!,
        A_log: h.A_log!,
        B: Float32Array.from(ref.B),
        C: Float32Array.from(ref.C),
        D: h.D!,
        dtBias: h.dtBias!,
      },
      Bsz,
      K,
      L,
      di,
      N,
    );
    expectClose(y64, y32, 1e-6, 'f64 forward vs selectiveScanRef');
    const g = selectiveScanBackwardRef(ref, dy, Bsz, K, L, di, N);
    const names = ['u', 'delta', 'A_log', 'B', 'C', 'D', 'dtBias'] as const;
    const grads: Record<(typeof names)[number], Float64Array> = {
      u: g.du,
      delta: g.ddelta,
      A_log: g.dA_log,
      B: g.dB,
      C: g.dC,
      D: g.dD,
      dtBias: g.dDtBias,
    };
    for (const name of names) {
      const num = fdGrad((v) => dot(selectiveScan64({ ...ref, [name]: v }, Bsz, K, L, di, N), dy), ref[name]);
      expectClose(grads[name], num, FD_TOL, `d${name} vs finite differences seed=${seed}`);
    }
  });

  it('runs under WebGPU default limits (8 storage buffers, 16 KiB workgroup memory)', async () => {
    await getEngine();
    const ctx = await acquireDevice(dawnInstance!, { defaultLimitsOnly: true, label: 'default-limits-scan-bwd' });
    const e = new Engine(ctx);
    try {
      const grid: ScanGrid = { textLen: 4, grid: 4, directions: 4 };
      const [Bsz, K, L, di, N, R] = [1, 4, seqLen(grid), 64, 16, 4];
      const { h, S } = make(1, Bsz, K, L, di, N, R);
      await e.checked(() => {
        const t = upload(e, h, Bsz, K, L, di, N, S, R);
        selectiveScanBackward(e, t, e.fromArray([Bsz, K, L, di], h.dy!));
        selectiveScanFusedBackward(e, t, e.fromArray([Bsz, L, di], h.dy!.subarray(0, Bsz * L * di)), grid);
      });
    } finally {
      e.dispose();
      ctx.device.destroy();
    }
  });
});
