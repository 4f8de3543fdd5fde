// The drift guard's metric (src/finetune/drift.ts) on synthetic pictures with known answers: 32-px PSNR, colour
// shares and their largest change, token change, and the report's bound check.
import { describe, expect, it } from 'vitest';
import {
  COLOUR_BINS,
  colourBin,
  colourShares,
  DRIFT_BOUNDS,
  driftReport,
  psnrAt,
  promptDrift,
  tokenChange,
  type DriftImage,
} from '../src/finetune/drift';

const SIDE = 128;
/** A SIDE × SIDE picture whose pixel (x, y) has colour f(x, y). */
function picture(f: (x: number, y: number) => [number, number, number]): DriftImage {
  const rgba = new Uint8ClampedArray(SIDE * SIDE * 4);
  for (let y = 0; y < SIDE; y++)
    for (let x = 0; x < SIDE; x++) {
      const [r, g, b] = f(x, y);
      rgba.set([r, g, b, 255], (y * SIDE + x) * 4);
    }
  return { width: SIDE, height: SIDE, rgba };
}
const flat = (c: [number, number, number]) => picture(() => c);
const bin = (name: (typeof COLOUR_BINS)[number]) => COLOUR_BINS.indexOf(name);

describe('drift metric', () => {
  it('32-px PSNR: equal pictures are Infinity; a flat offset of 10 gives 10·log10(255²/100)', () => {
    expect(psnrAt(flat([100, 120, 140]), flat([100, 120, 140]))).toBe(Infinity);
    expect(psnrAt(flat([100, 100, 100]), flat([110, 110, 110]))).toBeCloseTo(10 * Math.log10(65025 / 100), 10);
    // one channel off by 30 in a quarter of the picture: MSE = 30² / 3 / 4
    const quarter = picture((x, y) => (x < 64 && y < 64 ? [130, 100, 100] : [100, 100, 100]));
    expect(psnrAt(flat([100, 100, 100]), quarter)).toBeCloseTo(10 * Math.log10(65025 / (900 / 12)), 10);
  });

  it('32-px PSNR leaves out texture finer than 4 pixels (a 1-px checkerboard = its mean grey)', () => {
    const checker = picture((x, y) => ((x + y) % 2 ? [200, 200, 200] : [0, 0, 0]));
    expect(psnrAt(checker, flat([100, 100, 100]))).toBe(Infinity);
    expect(() => psnrAt({ width: 100, height: 100, rgba: new Uint8Array(100 * 100 * 4) }, flat([0, 0, 0]))).toThrow(
      /cells|bytes/,
    );
  });

  it('colour bins: named colours land where their names say', () => {
    const cases: Array<[[number, number, number], (typeof COLOUR_BINS)[number]]> = [
      [[0, 0, 0], 'black'],
      [[128, 128, 128], 'grey'],
      [[250, 250, 250], 'white'],
      [[220, 30, 30], 'red'],
      [[255, 140, 0], 'orange'],
      [[240, 220, 20], 'yellow'],
      [[30, 180, 40], 'green'],
      [[20, 200, 210], 'cyan'],
      [[30, 60, 220], 'blue'],
      [[130, 40, 220], 'violet'],
      [[220, 30, 200], 'magenta'],
      [[230, 40, 110], 'pink'],
    ];
    for (const [rgb, name] of cases) expect(COLOUR_BINS[colourBin(...rgb)], `${rgb}`).toBe(name);
  });

  it('colour shares sum to 1; the drift is the largest change of one colour', () => {
    const half = picture((x) => (x < 64 ? [220, 30, 30] : [30, 60, 220]));
    const s = colourShares(half);
    expect(s.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 12);
    expect(s[bin('red')]).toBeCloseTo(0.5, 12);
    expect(s[bin('blue')]).toBeCloseTo(0.5, 12);
    const tokens = new Uint32Array(256);
    const d = promptDrift({ image: flat([220, 30, 30]), tokens }, { image: half, tokens });
    expect(d.colourShareDiff).toBeCloseTo(0.5, 12);
    expect(d.tokenChange).toBe(0);
  });

  it('token change is the share of positions whose code changed', () => {
    const a = Uint32Array.from({ length: 256 }, (_, i) => i % 7);
    const b = a.slice();
    for (let i = 0; i < 64; i++) b[i * 4] = (b[i * 4]! + 1) % 7;
    expect(tokenChange(a, b)).toBe(0.25);
    expect(tokenChange(a, a)).toBe(0);
    expect(() => tokenChange(a, b.subarray(1))).toThrow();
  });

  it('the report takes the worst prompt on each measure and checks the bounds (≥ 20 dB, ≤ 0.05)', () => {
    const tokens = new Uint32Array(256);
    const grey = { image: flat([100, 100, 100]), tokens };
    const close = { image: flat([104, 100, 100]), tokens }; // MSE 16/3: 40.9 dB
    const red = { image: flat([220, 30, 30]), tokens: Uint32Array.from({ length: 256 }, (_, i) => (i < 128 ? 1 : 0)) };
    const ok = driftReport([grey, grey], [grey, close]);
    expect(ok.prompts[0]!.psnr32).toBe(Infinity);
    expect(ok.worst.psnr32).toBeCloseTo(10 * Math.log10(65025 / (16 / 3)), 10);
    expect(ok.withinBounds).toBe(true);
    const bad = driftReport([grey, grey], [close, red]);
    expect(bad.worst.psnr32).toBeLessThan(DRIFT_BOUNDS.minPsnr32);
    expect(bad.worst.colourShareDiff).toBe(1);
    expect(bad.worst.tokenChange).toBe(0.5);
    expect(bad.withinBounds).toBe(false);
    expect(() => driftReport([grey], [])).toThrow();
  });
});
