// A step of a variations run holds `count` images one after another (src/worker/api.ts GenerateProgress 'step'):
// split it into one Frame per image (copies), for the main view (the first) and the variations grid (each).
// A step without pixels (its preview decode paced to the display, src/model/pipeline.ts previewEveryMs) keeps the
// image shown last under its own (newer) mask (before the first decoded preview, a blank one) and is marked `kept`;
// when such a step is picked (filmstrip, variations grid, "Edit this step"), ownPixels decodes its own picture from
// its tokens (the engine's decodeTokens) once and stores it on the frame.
import type { GenerateProgress } from '../worker/api';
import type { FramePixels } from './frame_png';

/** One step's picture as the page shows it (main view, filmstrip, variations grid). */
export interface Frame {
  step: number;
  steps: number;
  /** RGBA8, width*height*4. */
  pixels: Uint8ClampedArray;
  width: number;
  height: number;
  /** (16*16) 1 = still masked. */
  masked: Uint8Array;
  msStep: number;
  /** (16*16) the step's token grid ([MASK] where masked), when known: "Edit this step" needs it. */
  tokens?: Uint32Array;
  /** True while `pixels` are an earlier step's (this step's preview was paced away, src/model/pipeline.ts
   *  previewEveryMs): picked, the step gets its own from its tokens (ownPixels, below). */
  kept?: boolean;
}

export type StepProgress = Extract<GenerateProgress, { kind: 'step' }>;

/** The pixels of image `i` of step `p`: its own (a copy when the step holds several images), else `shown`'s (the
 *  frame shown last for that image, shared, not copied), else a blank image of the step's size. */
export function stepPixels(p: StepProgress, i: number, shown?: FramePixels): Uint8ClampedArray {
  const bytes = p.width * p.height * 4;
  if (p.pixels) return p.count === 1 ? p.pixels : p.pixels.slice(i * bytes, (i + 1) * bytes);
  if (shown && shown.width === p.width && shown.height === p.height) return shown.pixels;
  return new Uint8ClampedArray(bytes);
}

/** One Frame per image of the step, in seed order; `tokens` of each too. `shown[i]`: the frame shown last for image
 *  i (what a step without pixels keeps). */
export function splitStep(
  p: StepProgress,
  shown: ReadonlyArray<FramePixels | undefined> = [],
): Array<Frame & { tokens: Uint32Array }> {
  const n = p.count;
  const hw = p.masked.length / n;
  return Array.from({ length: n }, (_, i) => ({
    step: p.step,
    steps: p.steps,
    pixels: stepPixels(p, i, shown[i]),
    width: p.width,
    height: p.height,
    masked: p.masked.slice(i * hw, (i + 1) * hw),
    tokens: p.tokens.slice(i * hw, (i + 1) * hw),
    msStep: p.msStep,
    kept: !p.pixels,
  }));
}

/** A token grid's picture, as a step preview draws it (the engine's decodeTokens). */
export type DecodeTokens = (tokens: Uint32Array) => Promise<FramePixels>;

/** Decodes in flight, per frame: asks made meanwhile share one. */
const decoding = new WeakMap<Frame, Promise<Frame>>();

/** `f` with its own picture: `f` as it is unless its pixels are kept from an earlier step (`kept`, with `tokens`);
 *  then its tokens are decoded once and the picture is stored on `f` itself (`pixels` replaced, `kept` false), so
 *  every view of the frame shows it from then on. A failed decode leaves `f` as it was (a later ask tries again). */
export function ownPixels(f: Frame, decode: DecodeTokens): Promise<Frame> {
  const tokens = f.tokens;
  if (!f.kept || !tokens) return Promise.resolve(f);
  let got = decoding.get(f);
  if (!got) {
    got = (async () => {
      const img = await decode(tokens);
      if (img.width !== f.width || img.height !== f.height || img.pixels.length !== f.width * f.height * 4)
        throw new Error(`decoded ${img.width}×${img.height}, the step is ${f.width}×${f.height}`);
      f.pixels = img.pixels;
      f.kept = false;
      return f;
    })();
    decoding.set(f, got);
    got.catch(() => decoding.delete(f));
  }
  return got;
}
