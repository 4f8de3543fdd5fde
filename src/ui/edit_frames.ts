// A step of a variations run holds `count` images one after another (src/worker/api.ts GenerateProgress 'step'):
// split it into one Frame per image (copies), for the main view (the first) and the variations grid (each).
// A step without pixels (its preview decode paced to the display, src/model/pipeline.ts previewEveryMs) keeps the
// image shown last under its own (newer) mask; before the first decoded preview that is a blank (transparent) one.
import type { GenerateProgress } from '../worker/api';
import type { FramePixels } from './frame_png';
import type { Frame } from './image_view';

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
  }));
}
