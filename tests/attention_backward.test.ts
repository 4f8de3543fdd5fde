// Self-attention backward (packed qkv → dqkv) vs the f64 CPU reference, and that reference vs finite differences of
// the forward reference: several heads, a key padding mask (including a batch row with every key masked → zero
// gradient), sequences longer than one 64-thread workgroup, and the text encoder's shape (L 16, 4 heads of 32).
import { describe, expect, it } from 'vitest';
import { selfAttentionPacked } from '../src/engine/ops/attention';
import { selfAttentionPackedBackward } from '../src/engine/ops/attention_backward';
import { attentionRef, mergeHeadsRef, splitHeadsRef } from '../src/engine/reference/attention';
import { attentionBackwardRef } from '../src/engine/reference/attention_backward';
import { expectClose, freshSeed, getEngine, poison, randInt, randn } from './gpu';

// f32 dot products over Dh ≤ 64 terms, exp() of a few ulp and sums over ≤ 70 keys: ~1e-6 relative. 2e-5 of the
// largest gradient leaves headroom; a wrong index, a missing mask or a wrong Δ_i gives errors of order 1e-1.
const TOL = 2e-5;

/** dq, dk, dv (B, H, L, Dh) each → the packed (B, L, 3·H·Dh) layout of qkv. */
function packHeads(parts: ArrayLike<number>[], B: number, H: number, L: number, Dh: number): Float64Array {
  const d = H * Dh;
  const out = new Float64Array(B * L * 3 * d);
  parts.forEach((x, c) => {
    const m = mergeHeadsRef(x, B, H, L, Dh); // (B, L, d)
    for (let r = 0; r < B * L; r++) for (let j = 0; j < d; j++) out[r * 3 * d + c * d + j] = m[r * d + j]!;
  });
  return out;
}

describe('attention backward', () => {
  it('the CPU reference matches central finite differences of the forward reference', () => {
    const [B, H, L, Dh] = [2, 2, 4, 4];
    const dims = { B, H, Lq: L, Lk: L, Dh };
    const seed = freshSeed();
    const q = Float64Array.from(randn(B * H * L * Dh, seed, -1.5, 1.5));
    const k = Float64Array.from(randn(B * H * L * Dh, seed + 1, -1.5, 1.5));
    const v = Float64Array.from(randn(B * H * L * Dh, seed + 2));
    const dO = randn(B * H * L * Dh, seed + 3);
    const mask = Uint32Array.from([1, 1, 0, 1, 0, 1, 1, 1]);
    const loss = () => attentionRef(q, k, v, dims, mask).reduce((s, o, i) => s + o * dO[i]!, 0);
    const g = attentionBackwardRef(q, k, v, dO, dims, mask);
    const eps = 1e-5;
    for (const [x, dx, name] of [
      [q, g.dq, 'dq'],
      [k, g.dk, 'dk'],
      [v, g.dv, 'dv'],
    ] as const) {
      const fd = new Float64Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const x0 = x[i]!;
        x[i] = x0 + eps;
        const up = loss();
        x[i] = x0 - eps;
        fd[i] = (up - loss()) / (2 * eps);
        x[i] = x0;
      }
      expectClose(dx, fd, 1e-7, `${name} vs finite differences, seed=${seed}`);
    }
    // masked keys get no gradient
    for (let d = 0; d < Dh; d++) expect(g.dk[2 * Dh + d]).toBe(0);
  });

  const SHAPES: Array<[number, number, number, number, boolean]> = [
    // B, L, H, Dh, masked
    [1, 1, 1, 4, false],
    [2, 16, 4, 32, true], // the text encoder's shape; batch row 1 fully masked
    [2, 70, 2, 8, true], //  two workgroups of rows and of keys
    [1, 33, 2, 64, false],
  ];
  for (const [B, L, H, Dh, masked] of SHAPES)
    it(`packed dqkv, B=${B} L=${L} H=${H} Dh=${Dh} mask=${masked}`, async () => {
      const e = await getEngine();
      const seed = freshSeed();
      const d = H * Dh;
      const qkv = randn(B * L * 3 * d, seed, -2, 2);
      const dOut = randn(B * L * d, seed + 1);
      let mask: Uint32Array | null = null;
      if (masked) {
        mask = randInt(B * L, seed + 2, 2);
        mask[0] = 1;
        if (B > 1) mask.fill(0, L, 2 * L);
      }
      const tq = e.fromArray([B, L, 3 * d], qkv);
      const tm = mask ? e.fromArray([B, L], mask, 'u32') : null;
      const out = selfAttentionPacked(e, tq, H, { mask: tm });
      const tdo = e.fromArray([B, L, d], dOut);
      const junk = e.empty([B, L, 3 * d]);
      poison(e, junk);
      junk.dispose();
      const dqkv = selfAttentionPackedBackward(e, tq, out, tdo, H, { mask: tm });
      const [qh, kh, vh] = [0, 1, 2].map((c) => splitHeadsRef(qkv, B, L, 3, c, H, Dh));
      const dOh = splitHeadsRef(dOut, B, L, 1, 0, H, Dh);
      const g = attentionBackwardRef(qh!, kh!, vh!, dOh, { B, H, Lq: L, Lk: L, Dh }, mask);
      expectClose(await e.readF32(dqkv), packHeads([g.dq, g.dk, g.dv], B, H, L, Dh), TOL, `seed=${seed}`);
      for (const t of [tq, out, tdo, dqkv, tm]) t?.dispose();
    });
});
