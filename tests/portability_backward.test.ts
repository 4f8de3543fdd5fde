// Every backward kernel validates and runs on a device with WebGPU's default limits (8 storage buffers per stage,
// 16 KiB workgroup memory, 256 invocations) at the shipped model's sizes per batch row (L = 16 + 16², d = 256,
// di = 512, N = 16, K = 4, codebook 1024 + [MASK]; text encoder: 16 tokens, width 128, 4 heads); e.checked() turns a
// validation error into a failure. Numerics are checked by the per-op tests; here only that every output is finite.
import { describe, expect, it } from 'vitest';
import { acquireDevice } from '../src/engine/device';
import { selfAttentionPacked } from '../src/engine/ops/attention';
import { selfAttentionPackedBackward } from '../src/engine/ops/attention_backward';
import { Engine } from '../src/engine/engine';
import { causalConv1dBackward, causalConv1dCrossScanBackward } from '../src/engine/ops/conv1d_backward';
import { crossEntropyMasked } from '../src/engine/ops/cross_entropy';
import { crossMergeBackward, crossScanBackward } from '../src/engine/ops/cross_scan_backward';
import type { ScanGrid } from '../src/engine/ops/cross_scan_geom';
import { gegluBackward, siluBackward } from '../src/engine/ops/elementwise_backward';
import { embeddingBackward } from '../src/engine/ops/embedding_backward';
import { linearBackward } from '../src/engine/ops/matmul_backward';
import { layerNormBackward, rmsNormBackward } from '../src/engine/ops/norm_backward';
import { selectiveScanFusedBackward } from '../src/engine/ops/selective_scan_backward';
import type { Tensor } from '../src/engine/tensor';
import { dawnInstance, getEngine, randInt, randn } from './gpu';

describe('portability of the backward kernels', () => {
  it('run on a device with WebGPU default limits', async () => {
    await getEngine();
    const ctx = await acquireDevice(dawnInstance!, { defaultLimitsOnly: true, label: 'default-limits-backward' });
    const e = new Engine(ctx);
    const grid: ScanGrid = { textLen: 16, grid: 16, directions: 4 };
    const [B, L, d, di, N, K, R, V] = [1, 272, 256, 512, 16, 4, 16, 1025];
    const r = (shape: number[], seed: number, lo = -1, hi = 1) =>
      e.fromArray(
        shape,
        randn(
          shape.reduce((a, b) => a * b, 1),
          seed,
          lo,
          hi,
        ),
      );
    try {
      const outs = await e.checked(() => {
        const o: Array<Tensor | null> = [];
        const h = r([B, L, d], 1);
        const dh = r([B, L, d], 2);
        const mod = r([B, 3 * d], 3);
        const g1 = rmsNormBackward(e, h, dh, { shift: { tensor: mod, offset: 0 }, scale: { tensor: mod, offset: d } });
        const x = r([B, L, di], 4);
        const dx = r([B, L, di], 5);
        const g2 = layerNormBackward(e, x, dx, { weight: r([di], 6), bias: r([di], 7) });
        o.push(g1.dx, g1.dMod, g2.dx, g2.dWeight, g2.dBias);
        const lin = linearBackward(e, h, r([2 * di, d], 8), r([B, L, 2 * di], 9), { bias: true });
        o.push(
          lin.dx,
          lin.dW,
          lin.dBias,
          siluBackward(e, x, dx),
          gegluBackward(e, r([B, L, 2 * 4 * d], 10), r([B, L, 4 * d], 11)),
        );
        const c1 = causalConv1dCrossScanBackward(e, x, r([K, di, 4], 12), r([K, di], 13), r([B, K, L, di], 14), grid, {
          silu: true,
        });
        const c2 = causalConv1dBackward(
          e,
          r([B, K, L, di], 15),
          r([K, di, 4], 12),
          r([K, di], 13),
          r([B, K, L, di], 14),
          { silu: true },
        );
        o.push(
          c1.dx,
          c1.dWeight,
          c2.dx,
          c2.dBias,
          crossScanBackward(e, r([B, K, L, di], 16), grid),
          crossMergeBackward(e, dx, grid),
        );
        const sg = selectiveScanFusedBackward(
          e,
          {
            u: r([B, K, L, di], 17, -2, 2),
            delta: r([B, K, L, di], 18, -3, 2),
            A_log: r([K, di, N], 19, 0, 2.7),
            BC: r([B, K, L, R + 2 * N], 20),
            D: r([K, di], 21),
            deltaBias: r([K, di], 22, -4, 0),
            bOffset: R,
            cOffset: R + N,
          },
          dx,
          grid,
        );
        o.push(sg.du, sg.ddelta, sg.dBC, sg.dA_log, sg.dD, sg.dDeltaBias);
        const ce = crossEntropyMasked(
          e,
          r([B, 256, V - 1], 23, -5, 5),
          e.fromArray([B * 256], randInt(B * 256, 24, V - 1), 'u32'),
          e.fromArray([B * 256], randInt(B * 256, 25, 2), 'u32'),
        );
        o.push(
          ce.loss,
          ce.dlogits,
          embeddingBackward(e, e.fromArray([B * 256], randInt(B * 256, 26, V), 'u32'), r([B, 256, d], 27), V),
        );
        const qkv = r([8, 16, 3 * 128], 28, -2, 2);
        const keyMask = e.fromArray(
          [8, 16],
          Uint32Array.from({ length: 8 * 16 }, (_, i) => (i % 16 < 5 ? 1 : 0)),
          'u32',
        );
        const att = selfAttentionPacked(e, qkv, 4, { mask: keyMask });
        o.push(selfAttentionPackedBackward(e, qkv, att, r([8, 16, 128], 29), 4, { mask: keyMask }));
        return o;
      });
      for (const t of outs) {
        const v = await e.readF32(t!);
        expect(
          v.every((x) => Number.isFinite(x)),
          `${t}`,
        ).toBe(true);
      }
    } finally {
      e.dispose();
      ctx.device.destroy();
    }
  });
});
