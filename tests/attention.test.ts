// attention vs the f64 CPU reference: (B, H, L, Dh) form and the packed self/cross forms used by the models,
// lengths not multiples of the key tile (32) or the query block (16), several tiles of keys (online softmax
// rescaling), with and without a key padding mask (including a fully masked batch row → zeros).
import { describe, it } from 'vitest';
import { attention, crossAttentionPacked, selfAttentionPacked } from '../src/engine/ops/attention';
import { attentionRef, mergeHeadsRef, splitHeadsRef } from '../src/engine/reference/attention';
import { expectClose, freshSeed, getEngine, poison, randInt, randn } from './gpu';

// f32 dot products over Dh ≤ 256 terms, exp() of a few ulp and a running sum over ≤ 100 keys rescaled once per
// tile: ~1e-6 relative; 2e-5 of the largest output leaves headroom, while a wrong key/head index, a missing
// barrier around the K/V tile or a wrong rescale gives errors of order 1e-1 or more.
const TOL = 2e-5;

type Eng = Awaited<ReturnType<typeof getEngine>>;
function poisonNext(e: Eng, shape: number[]): void {
  const p = e.empty(shape);
  poison(e, p);
  p.dispose();
}

function makeMask(B: number, Lk: number, seed: number): Uint32Array {
  const m = randInt(B * Lk, seed, 2);
  m[0] = 1; // batch 0 keeps at least one key
  if (B > 1) m.fill(0, Lk, 2 * Lk); // batch 1: every key masked → zeros
  return m;
}

describe('attention', () => {
  const SHAPES: Array<[number, number, number, number, number]> = [
    // B, H, Lq, Lk, Dh
    [1, 1, 1, 1, 4],
    [2, 2, 5, 16, 8],
    [2, 3, 70, 33, 16],
    [1, 2, 33, 100, 64],
    [1, 2, 33, 50, 96], // UViT M (d 384, 4 heads): a head dim that does not divide the 1024-float tile budget
    [2, 1, 17, 40, 12],
    [1, 1, 20, 9, 256], // the largest head dim: 4 keys per tile, fewer tile rows than query rows
  ];
  for (const masked of [false, true])
    it(`(B, H, L, Dh) form, mask=${masked}`, async () => {
      const e = await getEngine();
      for (const [B, H, Lq, Lk, Dh] of SHAPES) {
        const seed = freshSeed();
        const q = randn(B * H * Lq * Dh, seed, -2, 2);
        const k = randn(B * H * Lk * Dh, seed + 1, -2, 2);
        const v = randn(B * H * Lk * Dh, seed + 2);
        const mask = masked ? makeMask(B, Lk, seed + 3) : null;
        poisonNext(e, [B, H, Lq, Dh]);
        const o = attention(
          e,
          e.fromArray([B, H, Lq, Dh], q),
          e.fromArray([B, H, Lk, Dh], k),
          e.fromArray([B, H, Lk, Dh], v),
          {
            mask: mask ? e.fromArray([B, Lk], mask, 'u32') : null,
          },
        );
        const want = attentionRef(q, k, v, { B, H, Lq, Lk, Dh }, mask);
        expectClose(await e.readF32(o), want, TOL, `B=${B} H=${H} Lq=${Lq} Lk=${Lk} Dh=${Dh} seed=${seed}`);
      }
    });

  it('packed self-attention on qkv (B, L, 3d) → (B, L, d)', async () => {
    const e = await getEngine();
    for (const [B, L, H, Dh] of [
      [2, 37, 2, 8],
      [1, 70, 4, 32],
      [1, 40, 4, 96],
    ] as const) {
      const seed = freshSeed();
      const d = H * Dh;
      const qkv = randn(B * L * 3 * d, seed, -2, 2);
      poisonNext(e, [B, L, d]);
      const o = selfAttentionPacked(e, e.fromArray([B, L, 3 * d], qkv), H);
      const [q, k, v] = [0, 1, 2].map((c) => splitHeadsRef(qkv, B, L, 3, c, H, Dh)) as [
        Float32Array,
        Float32Array,
        Float32Array,
      ];
      const want = mergeHeadsRef(attentionRef(q, k, v, { B, H, Lq: L, Lk: L, Dh }), B, H, L, Dh);
      expectClose(await e.readF32(o), want, TOL, `self B=${B} L=${L} H=${H} Dh=${Dh} seed=${seed}`);
    }
  });

  it('packed cross-attention q (B, Lq, d), kv (B, Lk, 2d) with key mask', async () => {
    const e = await getEngine();
    for (const [B, Lq, Lk, H, Dh] of [
      [3, 40, 16, 2, 16],
      [2, 20, 16, 4, 96],
    ] as const) {
      const seed = freshSeed();
      const d = H * Dh;
      const q = randn(B * Lq * d, seed, -2, 2);
      const kv = randn(B * Lk * 2 * d, seed + 1, -2, 2);
      const mask = makeMask(B, Lk, seed + 2);
      poisonNext(e, [B, Lq, d]);
      const o = crossAttentionPacked(e, e.fromArray([B, Lq, d], q), e.fromArray([B, Lk, 2 * d], kv), H, {
        mask: e.fromArray([B, Lk], mask, 'u32'),
      });
      const qh = splitHeadsRef(q, B, Lq, 1, 0, H, Dh);
      const kh = splitHeadsRef(kv, B, Lk, 2, 0, H, Dh);
      const vh = splitHeadsRef(kv, B, Lk, 2, 1, H, Dh);
      const want = mergeHeadsRef(attentionRef(qh, kh, vh, { B, H, Lq, Lk, Dh }, mask), B, H, Lq, Dh);
      expectClose(await e.readF32(o), want, TOL, `cross Dh=${Dh} seed=${seed}`);
    }
  });
});
