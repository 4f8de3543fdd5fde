// A stand-in for the drift guard's renderer in run tests that do not look at drift: every control comes out the same
// 32×32 grey picture with all-zero tokens, with or without an adapter (so every check is within the bounds).
import type { RenderControls } from '../src/worker/finetune/drift_guard';

export const unchangedControls: RenderControls = async (_adapter, controls) =>
  controls.map(() => ({
    image: { width: 32, height: 32, rgba: new Uint8ClampedArray(32 * 32 * 4).fill(128) },
    tokens: new Int32Array(16),
  }));
