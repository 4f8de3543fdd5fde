// The page's editing logic, DOM-free: mask painting (src/ui/edit_mask.ts), the requests it sends
// (src/ui/edit_requests.ts), the split of a variations step and a paced-away step's own picture decoded on demand
// (src/ui/edit_frames.ts).
import { describe, expect, it } from 'vitest';
import { brush, cellAt, emptyMask, fillRect, invertMask, keepFromMask, markedCount } from '../src/ui/edit_mask';
import {
  imageToImageRequest,
  regionRequest,
  variationsRequest,
  varyRequest,
  VARY_STRENGTH,
} from '../src/ui/edit_requests';
import { ownPixels, splitStep, stepPixels, type DecodeTokens, type StepProgress } from '../src/ui/edit_frames';
import type { Frame } from '../src/ui/edit_frames';
import { DEFAULT_REMASK } from '../src/model/strength_mask';
import { checkGenerateRequest } from '../src/worker/generation/requests';
import type { GenerateRequest } from '../src/worker/api';

const G = 16;
const base: GenerateRequest = { prompt: 'a red circle', seed: 42, steps: 8, guidance: 3, variations: 3 };
const tokens = Uint32Array.from({ length: G * G }, (_, i) => i % 100);

describe('mask painting', () => {
  it('brush, rectangle, invert, cells', () => {
    let m = brush(emptyMask(G), G, 0, 0, 3, 1); // a 3×3 brush at the corner: 2×2 inside the grid
    expect(markedCount(m)).toBe(4);
    m = brush(m, G, 8, 8, 1, 1);
    expect(m[8 * G + 8]).toBe(1);
    expect(markedCount(brush(m, G, 8, 8, 1, 0))).toBe(4); // erase
    const r = fillRect(emptyMask(G), G, { col: 5, row: 2 }, { col: 2, row: 4 }, 1);
    expect(markedCount(r)).toBe(4 * 3);
    expect(r[3 * G + 3]).toBe(1);
    expect(markedCount(invertMask(r))).toBe(G * G - 12);
    expect(cellAt(0, 0, 512, 512, G)).toEqual({ col: 0, row: 0 });
    expect(cellAt(511.9, 33, 512, 512, G)).toEqual({ col: 15, row: 1 });
    expect(cellAt(-5, 900, 512, 512, G)).toEqual({ col: 0, row: 15 });
  });

  it('keep is the opposite of the mask, and unknown tokens are never kept', () => {
    const m = fillRect(emptyMask(G), G, { col: 0, row: 0 }, { col: 3, row: 3 }, 1);
    const unknown = emptyMask(G);
    unknown[200] = 1;
    const keep = keepFromMask(m, unknown);
    expect(keep[0]).toBe(0);
    expect(keep[200]).toBe(0);
    expect(keep[100]).toBe(1);
    expect(keep.reduce((s, k) => s + k, 0)).toBe(G * G - 16 - 1);
  });
});

describe('editing requests', () => {
  it('region: initTokens + keep with the base settings, no variations', () => {
    const m = fillRect(emptyMask(G), G, { col: 4, row: 4 }, { col: 7, row: 7 }, 1);
    const b = regionRequest(base, { tokens }, m);
    expect(b.ok).toBe(true);
    if (!b.ok) return;
    expect(b.req.variations).toBeUndefined();
    expect(b.req.prompt).toBe(base.prompt);
    expect(b.req.seed).toBe(42);
    expect(Array.from(b.req.initTokens!)).toEqual(Array.from(tokens));
    expect(Array.from(b.req.keep!)).toEqual(Array.from(keepFromMask(m)));
  });

  it("region: empty and full masks get the engine's messages", () => {
    const empty = regionRequest(base, { tokens }, emptyMask(G));
    expect(empty.ok).toBe(false);
    if (!empty.ok) expect(empty.problem).toMatch(/^The mask is empty/);
    const full = regionRequest(base, { tokens }, invertMask(emptyMask(G)));
    expect(full.ok).toBe(false);
    if (!full.ok) expect(full.problem).toMatch(/covers every token/);
  });

  it('image-to-image: strength and the re-masking choice go to the engine; 1 is a plain generation, 0 is refused', () => {
    const half = imageToImageRequest(base, { tokens }, 0.5);
    expect(half.ok).toBe(true);
    if (half.ok) {
      expect(half.req.keep).toBeUndefined(); // the engine chooses the tokens (src/model/strength_mask.ts)
      expect(half.req.strength).toBe(0.5);
      expect(half.req.remask).toBe(DEFAULT_REMASK);
      expect(Array.from(half.req.initTokens!)).toEqual(Array.from(tokens));
    }
    const conf = imageToImageRequest(base, { tokens }, 0.3, 'confidence');
    expect(conf.ok && conf.req.remask === 'confidence').toBe(true);
    // the request passes the worker's check as it is
    if (conf.ok) expect(checkGenerateRequest(conf.req).remask).toBe('confidence');
    const one = imageToImageRequest(base, { tokens }, 1);
    expect(one.ok && one.req.initTokens === undefined && one.req.strength === undefined).toBe(true);
    const zero = imageToImageRequest(base, { tokens }, 0);
    expect(zero.ok).toBe(false);
  });

  it("vary this: image-to-image at VARY_STRENGTH with the variation's seed", () => {
    const v = varyRequest(base, tokens, 44);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.req.seed).toBe(44);
    expect(v.req.strength).toBe(VARY_STRENGTH);
    expect(v.req.keep).toBeUndefined();
  });

  it('variations after an image-to-image run are of the plain request (no edit fields left over)', () => {
    const img2img = imageToImageRequest(base, { tokens }, 0.5, 'confidence');
    expect(img2img.ok).toBe(true);
    if (!img2img.ok) return;
    const v = variationsRequest(img2img.req, 3);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.req).toEqual({ ...base, variations: 3 });
    expect(checkGenerateRequest(v.req).variations).toBe(3);
  });

  it('the worker refuses malformed image-to-image requests with the reason', () => {
    const ok = { prompt: 'x', seed: 1, initTokens: Array.from(tokens) };
    for (const [bad, why] of [
      [{ ...ok, strength: 0.5, keep: Array.from(tokens, () => 1) }, /strength and keep came together/],
      [{ ...ok, strength: 1.5 }, /strength is 1.5/],
      [{ ...ok, strength: 0.001 }, /re-draws no token/],
      [{ ...ok, strength: 0.5, remask: 'loudest' }, /remask is "loudest"/],
      [{ prompt: 'x', seed: 1, strength: 0.5 }, /initTokens is undefined/],
      [{ ...ok, remask: 'random' }, /remask came alone/],
    ] as const)
      expect(() => checkGenerateRequest(bad)).toThrow(why);
  });
});

describe('variations step split', () => {
  it('splits count images in order', () => {
    const n = 3;
    const px = 4 * 4 * 4;
    const pixels = Uint8ClampedArray.from({ length: n * px }, (_, i) => Math.floor(i / px));
    const masked = Uint8Array.from({ length: n * G * G }, (_, i) => (Math.floor(i / (G * G)) === 1 ? 1 : 0));
    const toks = Uint32Array.from({ length: n * G * G }, (_, i) => Math.floor(i / (G * G)) + 10);
    const parts = splitStep({
      kind: 'step',
      step: 2,
      steps: 8,
      count: n,
      tokens: toks,
      masked,
      pixels,
      width: 4,
      height: 4,
      msStep: 5,
    });
    expect(parts.length).toBe(n);
    parts.forEach((f, i) => {
      expect(f.pixels.length).toBe(px);
      expect(f.pixels.every((v) => v === i)).toBe(true);
      expect(f.masked.every((v) => v === (i === 1 ? 1 : 0))).toBe(true);
      expect(f.tokens.every((v) => v === i + 10)).toBe(true);
      expect(f.step).toBe(2);
    });
  });

  it('a step without pixels (preview paced away) keeps each image shown last, blank before the first', () => {
    const n = 2;
    const masked = Uint8Array.from({ length: n * G * G }, (_, i) => i % 2);
    const toks = Uint32Array.from({ length: n * G * G }, (_, i) => i);
    const step: StepProgress = {
      kind: 'step',
      step: 3,
      steps: 8,
      count: n,
      tokens: toks,
      masked,
      width: 4,
      height: 4,
      msStep: 5,
    };
    const shown = [0, 1].map((i) => ({ pixels: new Uint8ClampedArray(4 * 4 * 4).fill(i + 7), width: 4, height: 4 }));
    const kept = splitStep(step, [shown[0], shown[1]]);
    kept.forEach((f, i) => {
      expect(f.kept).toBe(true);
      expect(f.pixels).toBe(shown[i]!.pixels); // the same image, not a copy
      expect(Array.from(f.masked)).toEqual(Array.from(masked.subarray(i * G * G, (i + 1) * G * G))); // the new mask
      expect(f.tokens[0]).toBe(i * G * G);
    });
    // nothing shown yet (or another size): a blank image of the step's size
    const blank = splitStep(step, [undefined, { ...shown[1]!, width: 2, height: 8 }]);
    for (const f of blank) expect(Array.from(f.pixels)).toEqual(new Array(4 * 4 * 4).fill(0));
    // a single image with pixels: its own array as it came
    const own = new Uint8ClampedArray(4 * 4 * 4).fill(3);
    const one = { ...step, count: 1, pixels: own, masked: masked.subarray(0, G * G) };
    expect(stepPixels(one, 0, shown[0])).toBe(own);
    expect(splitStep(one).map((f) => f.kept)).toEqual([false]);
  });
});

describe("a paced-away step's own picture (ownPixels)", () => {
  const S = 4;
  /** A token grid of one value. */
  const grid = (id: number) => new Uint32Array(G * G).fill(id);
  const frame = (kept: boolean, fill: number, tokens?: Uint32Array): Frame => ({
    step: 2,
    steps: 8,
    pixels: new Uint8ClampedArray(S * S * 4).fill(fill),
    width: S,
    height: S,
    masked: new Uint8Array(G * G),
    msStep: 5,
    tokens,
    kept,
  });
  /** A decoder that draws each grid as its first token's value; counts its calls; fails while `fail` is set. */
  const fakeDecoder = () => {
    const d = {
      calls: 0,
      fail: false,
      size: S,
      decode: (async (t: Uint32Array) => {
        d.calls++;
        await Promise.resolve();
        if (d.fail) throw new Error('the GPU is busy');
        return { pixels: new Uint8ClampedArray(d.size * d.size * 4).fill(t[0]!), width: d.size, height: d.size };
      }) as DecodeTokens,
    };
    return d;
  };

  it('decodes a kept frame once, stores the picture on the frame; frames with their own are left alone', async () => {
    const d = fakeDecoder();
    const f = frame(true, 7, grid(42));
    const kept = f.pixels;
    const asks = [ownPixels(f, d.decode), ownPixels(f, d.decode)];
    expect(f.pixels, 'the last image stays until the picture arrives').toBe(kept);
    const got = await Promise.all(asks);
    expect(d.calls, 'asks made while it decodes share one decode').toBe(1);
    for (const g of got) expect(g).toBe(f);
    expect(f.kept).toBe(false);
    expect(Array.from(f.pixels)).toEqual(new Array(S * S * 4).fill(42));
    expect(Array.from(kept), 'the earlier step keeps its own image').toEqual(new Array(S * S * 4).fill(7));
    await ownPixels(f, d.decode);
    expect(d.calls, 'cached on the frame').toBe(1);
    // a frame with its own pixels, or without tokens: nothing to decode
    const own = frame(false, 3, grid(9));
    const noTokens = frame(true, 3);
    expect(await ownPixels(own, d.decode)).toBe(own);
    expect(await ownPixels(noTokens, d.decode)).toBe(noTokens);
    expect(d.calls).toBe(1);
    expect(Array.from(own.pixels)).toEqual(new Array(S * S * 4).fill(3));
  });

  it('a failed or wrong-sized decode leaves the frame as it was; a later ask tries again', async () => {
    const d = fakeDecoder();
    const f = frame(true, 7, grid(42));
    const kept = f.pixels;
    d.fail = true;
    await expect(ownPixels(f, d.decode)).rejects.toThrow('the GPU is busy');
    expect([f.kept, f.pixels === kept]).toEqual([true, true]);
    d.fail = false;
    d.size = S * 2;
    await expect(ownPixels(f, d.decode)).rejects.toThrow(/decoded 8×8, the step is 4×4/);
    expect([f.kept, f.pixels === kept]).toEqual([true, true]);
    d.size = S;
    await ownPixels(f, d.decode);
    expect(d.calls).toBe(3);
    expect([f.kept, f.pixels[0]]).toEqual([false, 42]);
  });
});
