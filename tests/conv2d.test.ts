// conv2d (3×3 / 1×1, stride 1 / 2, padding, fused ×2 upsample; the VQ decoder's fused GroupNorm + SiLU input,
// residual epilogue and 2 rows per thread), groupNorm (+SiLU) and upsampleNearest2x vs the CPU references
// (reference/conv2d.ts), NCHW, fresh random inputs, poisoned outputs; every fused case also with small tiles
// (8 × 8 pixels × 4 output channels per workgroup, the vqSmallTiles fusion).
import { describe, it } from 'vitest';
import { conv2d } from '../src/engine/ops/conv2d';
import { groupNorm, groupNormStats } from '../src/engine/ops/groupnorm';
import { upsampleNearest2x } from '../src/engine/ops/upsample';
import { conv2dRef, groupNormRef, upsampleNearest2xRef } from '../src/engine/reference/conv2d';
import { expectClose, freshSeed, getEngine } from './gpu';
import { inputs, poisonNext } from './kernel_helpers';

// Sums of ≤ Cin·9 = 90 f32 products (summation order differs from the f64 reference): a few ulp of the
// largest partial sums, ≪ 1e-5 of the output range; 1e-5 still fails on any wrong tap, channel or tile edge.
const CONV_TOL = 1e-5;
// Mean/variance in f32 tree reductions over ≤ 4k values, then (x − mean)·rstd: ~1e-6 measured; 1e-5 allowed.
const GN_TOL = 1e-5;

describe('conv2d', () => {
  // (B, Cin, H, W, Cout, k, stride, pad, upsample): tiles of 16×8 cut mid-image, Cin not a multiple of the
  // 4-channel chunk, Cout not a multiple of the 8-channel block, stride-2 halos, pad 0 and 1.
  const CASES: Array<[number, number, number, number, number, number, 1 | 2, number, boolean]> = [
    [1, 3, 5, 7, 4, 3, 1, 1, false],
    [2, 5, 17, 9, 9, 3, 2, 1, false],
    [1, 9, 8, 8, 16, 1, 1, 0, false],
    [1, 4, 11, 35, 3, 3, 1, 1, false],
    [1, 6, 19, 34, 10, 3, 2, 1, false],
    [1, 2, 6, 6, 5, 3, 1, 0, false],
    [2, 5, 6, 9, 7, 3, 1, 1, true],
    [1, 3, 5, 9, 9, 1, 1, 0, true],
  ];
  for (const [B, Cin, H, W, Cout, k, s, pad, up] of CASES)
    it(`B=${B} ${Cin}→${Cout} ${H}×${W} k=${k} s=${s} pad=${pad}${up ? ' upsample' : ''}`, async () => {
      const e = await getEngine();
      const seed = freshSeed();
      const h = inputs(seed, { x: [B * Cin * H * W], w: [Cout * Cin * k * k], b: [Cout] });
      const x = e.fromArray([B, Cin, H, W], h.x!);
      const w = e.fromArray([Cout, Cin, k, k], h.w!);
      const b = e.fromArray([Cout], h.b!);
      const Hi = up ? 2 * H : H;
      const Wi = up ? 2 * W : W;
      const xin = up ? upsampleNearest2xRef(h.x!, B, Cin, H, W) : h.x!;
      const want = conv2dRef(xin, h.w!, h.b!, B, Cin, Hi, Wi, Cout, k, s, pad);
      poisonNext(e, [[B, Cout, want.Ho, want.Wo]]);
      const out = conv2d(e, x, w, b, { stride: s, padding: pad, upsample: up });
      expectClose(await e.readF32(out), want.out, CONV_TOL, `conv2d seed=${seed}`);
      for (const t of [x, w, b, out]) t.dispose();
    });
});

describe('conv2d with fused GroupNorm + SiLU input, residual epilogue, 2 rows per thread, small tiles', () => {
  // (B, Cin, H, W, Cout, k, stride, upsample, G): H, W cut the 16 × 8, 16 × 16, 8 × 8 and 8 × 16 tiles mid-image,
  // Cin not a multiple of the 4-channel chunk (and of 2: the 2-row stride-2 chunk), groups of 1–4 channels, Cout
  // not a multiple of 8 or 4; 3×3 and 1×1, stride 1 and 2, upsample on and off.
  const CASES: Array<[number, number, number, number, number, number, 1 | 2, boolean, number]> = [
    [1, 6, 19, 21, 10, 3, 1, false, 3],
    [2, 9, 17, 13, 12, 3, 2, false, 3],
    [1, 5, 9, 7, 9, 3, 1, true, 5],
    [2, 8, 18, 35, 7, 3, 1, false, 2],
    [1, 7, 23, 18, 4, 3, 2, false, 7],
    [1, 12, 6, 10, 16, 1, 1, false, 4],
    [1, 4, 5, 6, 3, 3, 1, true, 1],
  ];
  // [norm, residual, rows, small tiles]; (false, false, 1, false) is the plain conv above
  const VARIANTS: Array<[boolean, boolean, 1 | 2, boolean]> = [
    [true, false, 1, false],
    [false, true, 1, false],
    [true, true, 1, false],
    [false, false, 2, false],
    [true, false, 2, false],
    [true, true, 2, false],
    [false, false, 1, true],
    [true, true, 1, true],
    [false, true, 2, true],
    [true, true, 2, true],
  ];
  for (const [B, Cin, H, W, Cout, k, s, up, G] of CASES)
    for (const [norm, res, rows, small] of VARIANTS)
      it(`B=${B} ${Cin}→${Cout} ${H}×${W} k=${k} s=${s}${up ? ' upsample' : ''} G=${G} norm=${norm} res=${res} rows=${rows} small=${small}`, async () => {
        const e = await getEngine();
        const seed = freshSeed();
        const pad = (k - 1) / 2;
        const h = inputs(seed, {
          x: [B * Cin * H * W, -3, 5],
          w: [Cout * Cin * k * k],
          b: [Cout],
          g: [Cin, 0.5, 1.5],
          be: [Cin],
        });
        const Hi = up ? 2 * H : H;
        const Wi = up ? 2 * W : W;
        const xn = norm ? groupNormRef(h.x!, B, Cin, H * W, G, h.g!, h.be!, 1e-6, true) : h.x!;
        const want = conv2dRef(
          up ? upsampleNearest2xRef(xn, B, Cin, H, W) : xn,
          h.w!,
          h.b!,
          B,
          Cin,
          Hi,
          Wi,
          Cout,
          k,
          s,
          pad,
        );
        const r = inputs(seed + 7, { r: [want.out.length] }).r!;
        if (res) for (let i = 0; i < r.length; i++) want.out[i]! += r[i]!;
        const x = e.fromArray([B, Cin, H, W], h.x!);
        const w = e.fromArray([Cout, Cin, k, k], h.w!);
        const b = e.fromArray([Cout], h.b!);
        const gamma = e.fromArray([Cin], h.g!);
        const beta = e.fromArray([Cin], h.be!);
        const resid = e.fromArray([B, Cout, want.Ho, want.Wo], r);
        const stats = groupNormStats(e, x, G, 1e-6);
        poisonNext(e, [[B, Cout, want.Ho, want.Wo]]);
        const out = conv2d(e, x, w, b, {
          stride: s,
          padding: pad,
          upsample: up,
          norm: norm ? { stats, groups: G, gamma, beta } : undefined,
          residual: res ? resid : undefined,
          rowsPerThread: rows,
          smallTiles: small,
        });
        expectClose(await e.readF32(out), want.out, CONV_TOL, `fused conv2d seed=${seed}`);
        for (const t of [x, w, b, gamma, beta, resid, stats, out]) t.dispose();
      });
});

describe('groupNorm (two-pass and one-pass statistics)', () => {
  // (B, C, H, W, G, offset): one group, groups of one channel, HW not a multiple of 256, groups larger than 256·4
  // (the one-pass loop's 4 loads per thread, with a remainder), values around 100 (the one-pass shift).
  const CASES: Array<[number, number, number, number, number, number]> = [
    [1, 4, 3, 5, 1, 0],
    [2, 8, 5, 5, 8, 0],
    [1, 16, 9, 13, 4, 0],
    [2, 6, 1, 1, 3, 0],
    [1, 8, 24, 24, 2, 0],
    [1, 8, 33, 41, 4, 0],
    [2, 4, 16, 17, 2, 100],
  ];
  for (const [B, C, H, W, G, offset] of CASES)
    for (const silu of [false, true])
      for (const onePass of [false, true])
        it(`B=${B} C=${C} ${H}×${W} G=${G} offset=${offset} silu=${silu} onePass=${onePass}`, async () => {
          const e = await getEngine();
          const seed = freshSeed();
          const h = inputs(seed, { x: [B * C * H * W, offset - 3, offset + 5], g: [C, 0.5, 1.5], b: [C] });
          const x = e.fromArray([B, C, H, W], h.x!);
          const g = e.fromArray([C], h.g!);
          const b = e.fromArray([C], h.b!);
          poisonNext(e, [
            [B, C, H, W],
            [B * G, 2],
          ]);
          const out = groupNorm(e, x, G, g, b, { eps: 1e-6, silu, onePass });
          const want = groupNormRef(h.x!, B, C, H * W, G, h.g!, h.b!, 1e-6, silu);
          expectClose(await e.readF32(out), want, GN_TOL, `groupNorm seed=${seed}`);
          for (const t of [x, g, b, out]) t.dispose();
        });
});

describe('upsampleNearest2x', () => {
  for (const [B, C, H, W] of [
    [1, 1, 1, 1],
    [2, 3, 5, 7],
    [1, 5, 16, 17],
  ] as const)
    it(`B=${B} C=${C} ${H}×${W}`, async () => {
      const e = await getEngine();
      const seed = freshSeed();
      const h = inputs(seed, { x: [B * C * H * W] });
      const x = e.fromArray([B, C, H, W], h.x!);
      poisonNext(e, [[B, C, 2 * H, 2 * W]]);
      const out = upsampleNearest2x(e, x);
      expectClose(await e.readF32(out), upsampleNearest2xRef(h.x!, B, C, H, W), 0, `upsample seed=${seed}`);
      x.dispose();
      out.dispose();
    });
});
