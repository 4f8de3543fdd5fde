// Preview kernels (shaders/preview.wgsl) vs their CPU references on fresh random inputs, outputs poisoned first:
// the codebook gather (ids ≥ K, e.g. [MASK], take the neutral code) must be exact, and the RGBA8 + token packing
// must be exact too (the reference repeats the kernel's f32 arithmetic), including clamping and byte order.
import { describe, expect, it } from 'vitest';
import { embedCodes, packPreview } from '../src/engine/ops/preview';
import { embedCodesRef, levelRef, packPreviewRef } from '../src/engine/reference/preview';
import { expectEqualInts, freshSeed, getEngine, poison, randInt, randn } from './gpu';

type Eng = Awaited<ReturnType<typeof getEngine>>;
/** Poisons the pooled buffer the next same-size tensor will get. */
function poisonNext(e: Eng, shape: number[], dtype: 'f32' | 'u32'): void {
  const p = e.empty(shape, dtype);
  poison(e, p);
  p.dispose();
}

describe('embedCodes', () => {
  for (const [B, g, D, K] of [
    [1, 2, 3, 5],
    [2, 4, 8, 37],
    [1, 16, 8, 1024],
  ] as const)
    it(`B=${B} grid=${g} D=${D} K=${K}`, async () => {
      const e = await getEngine();
      const seed = freshSeed();
      const HW = g * g;
      const tokens = randInt(B * HW, seed, K + 3); // ids K, K+1, K+2: [MASK] and beyond → neutral
      tokens[0] = K;
      const codes = randn(K * D, seed + 1);
      const neutral = seed % K;
      const tT = e.fromArray([B, HW], tokens, 'u32');
      const cT = e.fromArray([K, D], codes);
      poisonNext(e, [B, D, g, g], 'f32');
      const z = embedCodes(e, tT, cT, neutral);
      expect(z.shape).toEqual([B, D, g, g]);
      const got = await e.readF32(z);
      const want = embedCodesRef(tokens, codes, D, HW, neutral);
      expectEqualInts(new Uint32Array(got.buffer), new Uint32Array(want.buffer), `embedCodes seed=${seed}`);
      for (const t of [tT, cT, z]) t.dispose();
    });
});

describe('packPreview', () => {
  for (const [B, S, nTok] of [
    [1, 4, 4],
    [2, 8, 32],
    [1, 128, 256],
  ] as const)
    it(`B=${B} S=${S} tokens=${nTok}`, async () => {
      const e = await getEngine();
      const seed = freshSeed();
      const images = randn(B * 3 * S * S, seed, -1.3, 1.3); // some values outside [-1, 1]: clamped
      const edges = [-1, 1, 0, -2, 2, 1 / 255 - 1, 3 / 255 - 1, 0.5 / 127.5 - 1];
      edges.forEach((v, i) => {
        images[i] = v;
      });
      const tokens = randInt(nTok, seed + 1, 2 ** 32 - 1);
      const iT = e.fromArray([B, 3, S, S], images);
      const tT = e.fromArray([nTok], tokens, 'u32');
      poisonNext(e, [B * S * S + nTok], 'u32');
      const out = packPreview(e, iT, tT);
      const got = (await e.read(out)) as Uint32Array;
      expectEqualInts(got, packPreviewRef(images, S, tokens), `packPreview seed=${seed}`);
      // the words are an RGBA image in memory: byte 0 = R of pixel 0, byte 3 = alpha
      const bytes = new Uint8Array(got.buffer);
      expect([bytes[0], bytes[3]]).toEqual([levelRef(images[0]!), 255]);
      expect(bytes[1]).toBe(levelRef(images[S * S]!));
      for (const t of [iT, tT, out]) t.dispose();
    });

  it('levels: clamp, endpoints, half to even', () => {
    expect([levelRef(-5), levelRef(-1), levelRef(1), levelRef(7)]).toEqual([0, 0, 255, 255]);
    expect(levelRef(0)).toBe(128); // 127.5 → 128 (even)
  });
});
