// A step of a variations run holds `count` images one after another (src/worker/api.ts GenerateProgress 'step'):
// split it into one Frame per image (copies), for the main view (the first) and the variations grid (each).
import type { GenerateProgress } from '../worker/api';
import type { Frame } from './image_view';

export type StepProgress = Extract<GenerateProgress, { kind: 'step' }>;

/** One Frame per image of the step, in seed order; `tokens` of each too. */
export function splitStep(p: StepProgress): Array<Frame & { tokens: Uint32Array }> {
  const n = p.count;
  const hw = p.masked.length / n;
  const bytes = p.pixels.length / n;
  return Array.from({ length: n }, (_, i) => ({
    step: p.step,
    steps: p.steps,
    pixels: p.pixels.slice(i * bytes, (i + 1) * bytes),
    width: p.width,
    height: p.height,
    masked: p.masked.slice(i * hw, (i + 1) * hw),
    tokens: p.tokens.slice(i * hw, (i + 1) * hw),
    msStep: p.msStep,
  }));
}
