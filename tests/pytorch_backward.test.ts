// Backward kernels vs PyTorch autograd (tests/fixtures/backward_cases.json, written by
// training/make_cases_backward.py from the model's own code paths: selective_scan_ref, RMSNorm + modulate with the
// packed AdaLN output, nn.LayerNorm, the causal conv1d + SiLU of MMambaLayer.mix, GEGLU, Linear, masked
// F.cross_entropy). Loss = Σ dy · op(inputs) (cross-entropy: the loss itself).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { causalConv1dBackward } from '../src/engine/ops/conv1d_backward';
import { crossEntropyMasked } from '../src/engine/ops/cross_entropy';
import { gegluBackward } from '../src/engine/ops/elementwise_backward';
import { linearBackward } from '../src/engine/ops/matmul_backward';
import { layerNormBackward, rmsNormBackward } from '../src/engine/ops/norm_backward';
import { selectiveScanBackward } from '../src/engine/ops/selective_scan_backward';
import { expectClose, getEngine } from './gpu';

// PyTorch f32 on CPU vs the engine's f32 kernels: both round differently (summation order, exp/tanh ulps); a few
// 1e-7 relative per op, more through the scan's L-step recurrence. 1e-4 leaves a wide margin; a wrong term is O(1).
const TOL = 1e-4;

interface Case {
  name: string;
  dims: Record<string, number>;
  inputs: Record<string, number[]>;
  grads: Record<string, number[]>;
  loss?: number;
}
const cases: Case[] = JSON.parse(
  readFileSync(new URL('./fixtures/backward_cases.json', import.meta.url), 'utf8'),
).cases;
const get = (name: string): Case => {
  const c = cases.find((k) => k.name === name);
  if (!c) throw new Error(`backward_cases.json has no case '${name}' (run training/make_cases_backward.py)`);
  return c;
};

describe('backward kernels vs PyTorch autograd', () => {
  // selective_scan: d_state 4; selective_scan_n1: d_state 1 (the slim layer)
  for (const name of ['selective_scan', 'selective_scan_n1'])
    it(`${name} (through softplus(Δ + bias) and A = −exp(A_log))`, async () => {
      const e = await getEngine();
      const { dims: d, inputs: x, grads: g } = get(name);
      const [Bsz, K, L, di, N, R] = [d.Bsz!, d.K!, d.L!, d.di!, d.N!, d.R!];
      const S = R + 2 * N;
      const t = {
        u: e.fromArray([Bsz, K, L, di], x.u!),
        delta: e.fromArray([Bsz, K, L, di], x.delta!),
        A_log: e.fromArray([K, di, N], x.A_log!),
        BC: e.fromArray([Bsz, K, L, S], x.xdbl!),
        D: e.fromArray([K, di], x.D!),
        deltaBias: e.fromArray([K, di], x.dt_bias!),
        bOffset: R,
        cOffset: R + N,
      };
      const r = selectiveScanBackward(e, t, e.fromArray([Bsz, K, L, di], x.dy!));
      expectClose(await e.readF32(r.du), g.u!, TOL, 'du');
      expectClose(await e.readF32(r.ddelta), g.delta!, TOL, 'ddelta');
      expectClose(await e.readF32(r.dA_log), g.A_log!, TOL, 'dA_log');
      expectClose(await e.readF32(r.dBC), g.xdbl!, TOL, 'dBC');
      expectClose(await e.readF32(r.dD), g.D!, TOL, 'dD');
      expectClose(await e.readF32(r.dDeltaBias), g.dt_bias!, TOL, 'ddt_bias');
    });

  it('AdaLN-modulated RMSNorm: dx and the packed (B, 3d) modulation gradient (gate columns 0)', async () => {
    const e = await getEngine();
    const { dims: d, inputs: x, grads: g } = get('adaln_rmsnorm');
    const [B, L, D] = [d.Bsz!, d.L!, d.D!];
    const mod = e.fromArray([B, 3 * D], x.mod!);
    const dmod = e.fromArray([B, 3 * D], new Float32Array(B * 3 * D));
    const r = rmsNormBackward(e, e.fromArray([B, L, D], x.x!), e.fromArray([B, L, D], x.dy!), {
      shift: { tensor: mod, offset: 0 },
      scale: { tensor: mod, offset: D },
      dModInto: { tensor: dmod, shiftOffset: 0, scaleOffset: D },
    });
    expectClose(await e.readF32(r.dx), g.x!, TOL, 'dx');
    expectClose(await e.readF32(dmod), g.mod!, TOL, 'dmod');
  });

  it('LayerNorm with affine weight and bias', async () => {
    const e = await getEngine();
    const { dims: d, inputs: x, grads: g } = get('layernorm');
    const [B, L, D] = [d.Bsz!, d.L!, d.D!];
    const r = layerNormBackward(e, e.fromArray([B, L, D], x.x!), e.fromArray([B, L, D], x.dy!), {
      weight: e.fromArray([D], x.weight!),
      bias: e.fromArray([D], x.bias!),
    });
    expectClose(await e.readF32(r.dx), g.x!, TOL, 'dx');
    expectClose(await e.readF32(r.dWeight!), g.weight!, TOL, 'dweight');
    expectClose(await e.readF32(r.dBias!), g.bias!, TOL, 'dbias');
  });

  it('causal depthwise conv1d + SiLU (per-direction weights)', async () => {
    const e = await getEngine();
    const { dims: d, inputs: x, grads: g } = get('conv1d_silu');
    const [B, K, L, C, W] = [d.Bsz!, d.K!, d.L!, d.C!, d.W!];
    const r = causalConv1dBackward(
      e,
      e.fromArray([B, K, L, C], x.x!),
      e.fromArray([K, C, W], x.w!),
      e.fromArray([K, C], x.b!),
      e.fromArray([B, K, L, C], x.dy!),
      { silu: true },
    );
    expectClose(await e.readF32(r.dx), g.x!, TOL, 'dx');
    expectClose(await e.readF32(r.dWeight), g.w!, TOL, 'dw');
    expectClose(await e.readF32(r.dBias), g.b!, TOL, 'db');
  });

  it('GEGLU', async () => {
    const e = await getEngine();
    const { dims: d, inputs: x, grads: g } = get('geglu');
    const r = gegluBackward(e, e.fromArray([d.R!, 2 * d.F!], x.x!), e.fromArray([d.R!, d.F!], x.dy!));
    expectClose(await e.readF32(r), g.x!, TOL, 'dx');
  });

  it('Linear with bias', async () => {
    const e = await getEngine();
    const { dims: d, inputs: x, grads: g } = get('linear');
    const r = linearBackward(
      e,
      e.fromArray([d.rows!, d.K!], x.x!),
      e.fromArray([d.N!, d.K!], x.w!),
      e.fromArray([d.rows!, d.N!], x.dy!),
      { bias: true },
    );
    expectClose(await e.readF32(r.dx!), g.x!, TOL, 'dx');
    expectClose(await e.readF32(r.dW), g.w!, TOL, 'dW');
    expectClose(await e.readF32(r.dBias!), g.b!, TOL, 'dbias');
  });

  it('masked cross-entropy: loss and dlogits', async () => {
    const e = await getEngine();
    const c = get('cross_entropy');
    const { R, V } = c.dims as { R: number; V: number };
    const r = crossEntropyMasked(
      e,
      e.fromArray([R, V], c.inputs.logits!),
      e.fromArray([R], c.inputs.targets!, 'u32'),
      e.fromArray([R], c.inputs.mask!, 'u32'),
    );
    const loss = await e.readF32(r.loss);
    expect(Math.abs(loss[0]! - c.loss!) / Math.abs(c.loss!)).toBeLessThan(TOL);
    expectClose(await e.readF32(r.dlogits), c.grads.logits!, TOL, 'dlogits');
  });
});
