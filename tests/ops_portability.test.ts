// The biggest configurations of matmul, attention, norms, softmax and sampling validate and run on a device with
// WebGPU's default limits (16 KiB workgroup memory, 256 invocations, 8 storage buffers), i.e. on any WebGPU device;
// e.checked() turns a validation error into a failure. Results are compared coarsely (the per-op tests check
// numerics): only that every output is finite.
import { describe, expect, it } from 'vitest';
import { acquireDevice } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import { attention } from '../src/engine/ops/attention';
import { matmul } from '../src/engine/ops/matmul';
import { layerNorm } from '../src/engine/ops/norm';
import { gumbelMaxSample, maskgitUpdate } from '../src/engine/ops/sampling';
import { softmax } from '../src/engine/ops/softmax';
import { dawnInstance, getEngine, randn } from './gpu';

describe('portability of the dense and sampling kernels', () => {
  it('run on a device with WebGPU default limits', async () => {
    await getEngine(); // creates the shared Dawn instance
    const ctx = await acquireDevice(dawnInstance!, { defaultLimitsOnly: true, label: 'default-limits-dense' });
    const e = new Engine(ctx);
    try {
      const outs = await e.checked(() => {
        const r: ReturnType<typeof matmul>[] = [];
        const a = e.fromArray([70, 40], randn(70 * 40, 1));
        const b = e.fromArray([40, 130], randn(40 * 130, 2));
        for (const tile of ['64x64', '128x64', '128x128'] as const) r.push(matmul(e, a, b, { tile }));
        for (const Dh of [64, 96, 128, 256]) {
          const q = e.fromArray([1, 1, 20, Dh], randn(20 * Dh, Dh));
          r.push(attention(e, q, q, q));
        }
        const x = e.fromArray([3, 1500], randn(4500, 3));
        r.push(layerNorm(e, x), softmax(e, x));
        const logits = e.fromArray([2, 256, 64], randn(2 * 256 * 64, 4));
        const s = gumbelMaxSample(e, logits, { seed: 1, stream: 0, guidance: 4 });
        const mask = e.fromArray([1, 256], new Uint32Array(256).fill(64), 'u32');
        r.push(
          s.logp,
          maskgitUpdate(e, mask, s.tokens, s.logp, { seed: 1, step: 0, steps: 12, tau: 4.5, maskId: 64 }).conf,
        );
        return r;
      });
      for (const o of outs) {
        const v = await e.readF32(o);
        expect(
          v.every((x) => Number.isFinite(x) || x === Infinity),
          `${o}`,
        ).toBe(true);
      }
    } finally {
      e.dispose();
      ctx.device.destroy();
    }
  });
});
