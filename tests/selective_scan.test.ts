// Selective scan, plain (scan order, (B, K, L, di) out), fused and chunked (token order in, merged (B, L, di) out),
// vs Mamba's selective_scan_ref in f64 (reference/selective_scan.ts) on fresh random inputs.
import { describe, expect, it } from 'vitest';
import { acquireDevice } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import { seqLen, type ScanGrid } from '../src/engine/ops/cross_scan_geom';
import {
  selectiveScan,
  selectiveScanChunked,
  selectiveScanFused,
  type ScanInputs,
} from '../src/engine/ops/selective_scan';
import { crossMergeRef, toScanOrderRef } from '../src/engine/reference/cross_scan';
import { selectiveScanRef, type ScanRefInputs } from '../src/engine/reference/selective_scan';
import type { Tensor } from '../src/engine/tensor';
import { dawnInstance, expectClose, freshSeed, getEngine } from './gpu';
import { inputs, poisonNext } from './kernel_helpers';

// f32 state vs f64 reference. The recurrence is contracting (exp(Δ·A) < 1), so rounding does not compound
// over L: per step a few ulp from exp/softplus and the N-term sum. Measured ≤ ~1e-6 on SwiftShader;
// 2e-5 leaves room for GPUs whose exp is a few ulp less accurate, yet a wrong index or a skipped
// step gives errors of order 1e-1 or more.
const TOL = 2e-5;

/** Random scan inputs in the ranges the model produces. x_dbl-style B/C: columns [R, R+N) and [R+N, R+2N). */
function makeInputs(seed: number, Bsz: number, K: number, L: number, di: number, N: number, R: number) {
  const S = R + 2 * N;
  const h = inputs(seed, {
    u: [Bsz * K * L * di, -2, 2],
    delta: [Bsz * K * L * di, -3, 2],
    A_log: [K * di * N, -0.5, Math.log(N) + 0.5],
    xdbl: [Bsz * K * L * S, -1.5, 1.5],
    D: [K * di, 0.5, 1.5],
    dtBias: [K * di, -6, -1],
    z: [Bsz * K * L * di, -3, 3],
  });
  const cols = (off: number) => {
    const out = new Float32Array(Bsz * K * L * N);
    for (let r = 0; r < Bsz * K * L; r++) out.set(h.xdbl!.subarray(r * S + off, r * S + off + N), r * N);
    return out;
  };
  return { h, S, Bc: cols(R), Cc: cols(R + N) };
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
) {
  return {
    u: e.fromArray([Bsz, K, L, di], h.u!),
    delta: e.fromArray([Bsz, K, L, di], h.delta!),
    A_log: e.fromArray([K, di, N], h.A_log!),
    xdbl: e.fromArray([Bsz, K, L, S], h.xdbl!),
    D: e.fromArray([K, di], h.D!),
    deltaBias: e.fromArray([K, di], h.dtBias!),
    z: e.fromArray([Bsz, K, L, di], h.z!),
  };
}

const disposeAll = (ts: Record<string, Tensor>) =>
  Object.values(ts).forEach((t) => {
    t.dispose();
  });

describe('selectiveScan (plain, scan order)', () => {
  // (B, K, L, di, N, R): one step; L crossing the 32-step staging chunk twice; di not a multiple of the
  // 32/64-channel workgroup; N = 1, 4, 16; R = 0 makes B/C plain (B, K, L, N)-strided rows.
  const SHAPES: Array<[number, number, number, number, number, number]> = [
    [1, 1, 1, 3, 1, 0],
    [2, 4, 22, 33, 4, 2],
    [1, 2, 70, 65, 16, 1],
    [1, 4, 33, 17, 16, 3],
  ];
  for (const [Bsz, K, L, di, N, R] of SHAPES)
    for (const gate of [false, true])
      it(`B=${Bsz} K=${K} L=${L} di=${di} N=${N} R=${R} z=${gate}`, async () => {
        const e = await getEngine();
        const seed = freshSeed();
        const { h, S, Bc, Cc } = makeInputs(seed, Bsz, K, L, di, N, R);
        const t = upload(e, h, Bsz, K, L, di, N, S);
        poisonNext(e, [[Bsz, K, L, di]]);
        const CH = [16, 32, 64][(seed >>> 3) % 3]!; // the default heuristic picks 32 at these sizes
        const y = selectiveScan(e, { ...t, BC: t.xdbl, bOffset: R, cOffset: R + N }, gate ? t.z : undefined, {
          channelsPerWorkgroup: CH,
        });
        const ref: ScanRefInputs = {
          u: h.u!,
          delta: h.delta!,
          A_log: h.A_log!,
          B: Bc,
          C: Cc,
          D: h.D!,
          dtBias: h.dtBias!,
          z: gate ? h.z : undefined,
        };
        expectClose(await e.readF32(y), selectiveScanRef(ref, Bsz, K, L, di, N), TOL, `scan CH=${CH} seed=${seed}`);
        disposeAll(t);
        y.dispose();
      });
});

/** The reference of the token-order kernels: inputs in token order → scan order, scan, then cross-merge. */
function tokenOrderWant(
  h: ReturnType<typeof makeInputs>,
  Bsz: number,
  K: number,
  L: number,
  di: number,
  N: number,
  g: ScanGrid,
): Float64Array | Float32Array {
  const so = (v: Float32Array, C: number) => toScanOrderRef(v, Bsz, L, C, g);
  const { h: a, Bc, Cc } = h;
  const ref: ScanRefInputs = {
    u: so(a.u!, di),
    delta: so(a.delta!, di),
    A_log: a.A_log!,
    B: so(Bc, N),
    C: so(Cc, N),
    D: a.D!,
    dtBias: a.dtBias!,
  };
  return crossMergeRef(selectiveScanRef(ref, Bsz, K, L, di, N), Bsz, L, di, g);
}

type TokenOrderRun = [string, (e: Awaited<ReturnType<typeof getEngine>>, x: ScanInputs, g: ScanGrid) => Tensor];
const TOKEN_ORDER_KERNELS: Array<[string, TokenOrderRun[]]> = [
  // every channel-block size in turn: blocks cut di mid-way, and 4·K threads up to 128
  [
    'selectiveScanFused (token order in, merged out)',
    [4, 8, 16, 32].map(
      (CB): TokenOrderRun => [`CB=${CB}`, (e, x, g) => selectiveScanFused(e, x, g, { channelsPerWorkgroup: CB })],
    ),
  ],
  // one chunk (the plain recurrence), ragged chunks, more chunks than a chunk's steps, chunks past L (empty)
  [
    'selectiveScanChunked (token order in, chunks of L in parallel, merged out)',
    [
      [1, 16],
      [3, 8],
      [8, 16],
      [16, 4],
      [64, 2],
    ].map(
      ([chunks, cb]): TokenOrderRun => [
        `chunks=${chunks} CB=${cb}`,
        (e, x, g) => selectiveScanChunked(e, x, g, { chunks, channelsPerWorkgroup: cb }),
      ],
    ),
  ],
];
// grid, B, di, N, R: L = 22 / 28 / 11 / 41 / 13, not multiples of the blocks or chunk counts above
const TOKEN_ORDER_CASES: Array<[ScanGrid, number, number, number, number]> = [
  [{ textLen: 6, grid: 4, directions: 4 }, 2, 20, 4, 2],
  [{ textLen: 3, grid: 5, directions: 2 }, 1, 33, 16, 1],
  [{ textLen: 2, grid: 3, directions: 1 }, 2, 16, 3, 0],
  [{ textLen: 5, grid: 6, directions: 4 }, 1, 17, 16, 2],
  [{ textLen: 4, grid: 3, directions: 4, textPosition: 'middle' }, 1, 5, 2, 1],
];

for (const [kernel, runs] of TOKEN_ORDER_KERNELS)
  describe(kernel, () => {
    for (const [g, Bsz, di, N, R] of TOKEN_ORDER_CASES)
      it(`K=${g.directions} Lt=${g.textLen} G=${g.grid} ${g.textPosition ?? 'first'} B=${Bsz} di=${di} N=${N}`, async () => {
        const e = await getEngine();
        const K = g.directions;
        const L = seqLen(g);
        const seed = freshSeed();
        const inp = makeInputs(seed, Bsz, K, L, di, N, R);
        const t = upload(e, inp.h, Bsz, K, L, di, N, inp.S);
        const x: ScanInputs = { ...t, BC: t.xdbl, bOffset: R, cOffset: R + N };
        const outs = runs.map(([what, run]) => {
          poisonNext(e, [
            [Bsz, K, L, di],
            [Bsz, L, di],
          ]);
          return [what, run(e, x, g)] as const;
        });
        const want = tokenOrderWant(inp, Bsz, K, L, di, N, g);
        for (const [what, out] of outs) {
          expectClose(await e.readF32(out), want, TOL, `${kernel.split(' ')[0]} ${what} seed=${seed}`);
          out.dispose();
        }
        disposeAll(t);
      });
  });

describe('selectiveScanChunked limits', () => {
  it('rejects a chunk × channel grid beyond its workgroup memory', async () => {
    const e = await getEngine();
    const g: ScanGrid = { textLen: 1, grid: 2, directions: 4 };
    const t = upload(e, makeInputs(1, 1, 4, 5, 8, 4, 0).h, 1, 4, 5, 8, 4, 8);
    const x = { ...t, BC: t.xdbl, bOffset: 0, cOffset: 4 };
    expect(() => selectiveScanChunked(e, x, g, { chunks: 16, channelsPerWorkgroup: 16 })).toThrow(/chunks/);
    disposeAll(t);
  });
});

describe('portability', () => {
  it('all variants run on a device with WebGPU default limits (8 storage buffers, 16 KiB workgroup memory)', async () => {
    await getEngine(); // creates the shared Dawn instance
    const ctx = await acquireDevice(dawnInstance!, { defaultLimitsOnly: true, label: 'default-limits' });
    const e = new Engine(ctx);
    try {
      const g: ScanGrid = { textLen: 3, grid: 3, directions: 4 };
      const [Bsz, K, L, di, N, R] = [1, 4, seqLen(g), 40, 16, 2];
      const seed = freshSeed();
      const { h, S, Bc, Cc } = makeInputs(seed, Bsz, K, L, di, N, R);
      const t = upload(e, h, Bsz, K, L, di, N, S);
      const x = { ...t, BC: t.xdbl, bOffset: R, cOffset: R + N };
      const [y, f, c] = await e.checked(() => [
        selectiveScan(e, x, t.z, { channelsPerWorkgroup: 64 }),
        selectiveScanFused(e, x, g, { channelsPerWorkgroup: 32 }), // K·32 = 128 invocations, 8 KiB staged B/C
        selectiveScanChunked(e, x, g, { chunks: 8, channelsPerWorkgroup: 16 }), // 128 invocations, 8.5 KiB
      ]);
      const ref: ScanRefInputs = {
        u: h.u!,
        delta: h.delta!,
        A_log: h.A_log!,
        B: Bc,
        C: Cc,
        D: h.D!,
        dtBias: h.dtBias!,
        z: h.z,
      };
      expectClose(
        await e.readF32(y!),
        selectiveScanRef(ref, Bsz, K, L, di, N),
        TOL,
        `default-limits scan seed=${seed}`,
      );
      // the fused and chunked kernels read the same arrays as token order
      const fwant = tokenOrderWant({ h, S, Bc, Cc }, Bsz, K, L, di, N, g);
      expectClose(await e.readF32(f!), fwant, TOL, `default-limits fused scan seed=${seed}`);
      expectClose(await e.readF32(c!), fwant, TOL, `default-limits chunked scan seed=${seed}`);
    } finally {
      e.dispose();
      ctx.device.destroy();
    }
  });
});
