// The image-to-image strength → keep-mask rule (src/model/strength_mask.ts): exact counts, determinism by seed,
// different seeds choose different tokens, and the choice spreads over the grid.
import { describe, expect, it } from 'vitest';
import { keepForStrength, maskedCountForStrength } from '../src/model/strength_mask';

const zeros = (keep: Uint8Array) => keep.reduce((s, k) => s + (k === 0 ? 1 : 0), 0);

describe('strength → keep-mask', () => {
  it('re-masks round(strength·HW) tokens', () => {
    expect(maskedCountForStrength(256, 0)).toBe(0);
    expect(maskedCountForStrength(256, 1)).toBe(256);
    expect(maskedCountForStrength(256, 0.5)).toBe(128);
    expect(maskedCountForStrength(256, 0.3)).toBe(77); // 76.8
    expect(maskedCountForStrength(256, 1.7)).toBe(256);
    expect(maskedCountForStrength(256, -1)).toBe(0);
    expect(maskedCountForStrength(256, Number.NaN)).toBe(0);
    for (const s of [0, 0.01, 0.25, 0.5, 0.77, 1]) {
      const keep = keepForStrength(256, s, 7);
      expect(keep.length).toBe(256);
      expect(zeros(keep)).toBe(Math.round(s * 256));
      expect(keep.every((k) => k === 0 || k === 1)).toBe(true);
    }
  });

  it('is deterministic by seed, and seeds differ', () => {
    const seed = 12345;
    console.log(`strength mask seed ${seed}`);
    const a = keepForStrength(256, 0.4, seed);
    expect(keepForStrength(256, 0.4, seed)).toEqual(a);
    expect(keepForStrength(256, 0.4, seed + 1)).not.toEqual(a);
  });

  it('spreads over the grid (every quarter of a 16×16 grid gets some at strength 0.5)', () => {
    for (let seed = 0; seed < 20; seed++) {
      const keep = keepForStrength(256, 0.5, seed);
      for (let q = 0; q < 4; q++) {
        let n = 0;
        for (let p = 0; p < 256; p++) if ((((p >> 4) >> 3) << 1) + ((p & 15) >> 3) === q && keep[p] === 0) n++;
        expect(n, `seed ${seed} quarter ${q}`).toBeGreaterThan(10);
        expect(n, `seed ${seed} quarter ${q}`).toBeLessThan(54);
      }
    }
  });
});
