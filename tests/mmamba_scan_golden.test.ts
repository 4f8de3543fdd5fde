// Golden check of the cross-scan SSM path against PyTorch (tests/fixtures/mmamba_tiny, sequential reference
// scan): each M-Mamba layer is recomputed from stage.embed / stage.layer{i-1} and stage.c, with the cross-scan,
// conv1d, selective scan and cross-merge done three ways — CPU references, the unfused GPU kernels
// (crossScan → causalConv1d → selectiveScan → crossMerge) and the fused GPU kernels (causalConv1dCrossScan →
// selectiveScanFused) — and the small dense glue (adaLN, RMSNorm, in/x/dt/out projections, LayerNorm) in plain
// CPU loops here. All three must reproduce stage.layer{i}. This pins the parameter layouts (K-stacked conv,
// x_proj, dt_proj, A_log, D), the permutations and the merge to mmamba.py.
import { resolve } from 'node:path';
import { describe, it } from 'vitest';
import type { Engine } from '../src/engine/engine';
import { causalConv1d, causalConv1dCrossScan } from '../src/engine/ops/conv1d';
import { crossMerge, crossScan } from '../src/engine/ops/cross_scan';
import type { ScanGrid } from '../src/engine/ops/cross_scan_geom';
import { selectiveScan, selectiveScanFused } from '../src/engine/ops/selective_scan';
import { sliceColumns } from '../src/engine/ops/split_columns';
import type { Tensor } from '../src/engine/tensor';
import { causalConv1dRef } from '../src/engine/reference/conv1d';
import { crossMergeRef, crossScanRef } from '../src/engine/reference/cross_scan';
import { selectiveScanRef } from '../src/engine/reference/selective_scan';
import { expectClose, getEngine } from './gpu';
import { f32, readSafetensors } from './golden_io';

// README's forward tolerance for f32 stages; the layer output is a sum of the residual and a small update.
const TOL = 1e-4;
const DIR = resolve(__dirname, 'fixtures/mmamba_tiny');

/** y (rows, out) = x (rows, in) · W^T, W (out, in), + bias. */
function linear(
  x: Float32Array,
  rows: number,
  inF: number,
  W: Float32Array,
  outF: number,
  bias?: Float32Array,
): Float32Array {
  const y = new Float32Array(rows * outF);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      let acc = bias ? bias[o]! : 0;
      for (let i = 0; i < inF; i++) acc += x[r * inF + i]! * W[o * inF + i]!;
      y[r * outF + o] = acc;
    }
  return y;
}
const silu = (v: number) => v / (1 + Math.exp(-v));

interface Cfg {
  B: number;
  L: number;
  d: number;
  di: number;
  N: number;
  R: number;
  K: number;
  grid: ScanGrid;
  cond: number;
}

/** Per-direction projections in (B, K, L, ·) layout (order-agnostic): x_dbl = xs · x_proj[k]^T, dt = x_dbl[:R] ·
 * dt_proj[k]^T. */
function projections(xs: Float32Array, c: Cfg, xProj: Float32Array, dtProj: Float32Array) {
  const { B, K, L, di, N, R } = c;
  const S = R + 2 * N;
  const xdbl = new Float32Array(B * K * L * S);
  const dt = new Float32Array(B * K * L * di);
  for (let b = 0; b < B; b++)
    for (let k = 0; k < K; k++) {
      const rows = (b * K + k) * L;
      const part = linear(
        xs.subarray(rows * di, (rows + L) * di),
        L,
        di,
        xProj.subarray(k * S * di, (k + 1) * S * di),
        S,
      );
      xdbl.set(part, rows * S);
      const dtIn = new Float32Array(L * R);
      for (let t = 0; t < L; t++) dtIn.set(part.subarray(t * S, t * S + R), t * R);
      dt.set(linear(dtIn, L, R, dtProj.subarray(k * di * R, (k + 1) * di * R), di), rows * di);
    }
  return { xdbl, dt, S };
}

type Mixer = 'cpu' | 'gpu' | 'gpu-fused';

async function layer(
  e: Engine,
  w: Map<string, { data: Float32Array | Int32Array }>,
  i: number,
  h: Float32Array,
  cvec: Float32Array,
  c: Cfg,
  mixer: Mixer,
) {
  const P = (n: string) => w.get(`layers.${i}.${n}`)!.data as Float32Array;
  const { B, L, d, di, N, R, K, grid } = c;
  // adaLN: (shift, scale, gate) = Linear(SiLU(c))
  const mod = linear(cvec.map(silu), B, c.cond, P('mod.proj.weight'), 3 * d, P('mod.proj.bias')); // (B, 3d)
  const u = new Float32Array(B * L * d);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < L; t++) {
      const row = h.subarray((b * L + t) * d, (b * L + t + 1) * d);
      let ms = 0;
      for (const v of row) ms += v * v;
      const r = 1 / Math.sqrt(ms / d + 1e-6);
      for (let j = 0; j < d; j++)
        u[(b * L + t) * d + j] = row[j]! * r * (1 + mod[b * 3 * d + d + j]!) + mod[b * 3 * d + j]!;
    }
  const xz = linear(u, B * L, d, P('in_proj.weight'), 2 * di); // (B, L, 2di)
  const x = new Float32Array(B * L * di);
  const z = new Float32Array(B * L * di);
  for (let r = 0; r < B * L; r++) {
    x.set(xz.subarray(r * 2 * di, r * 2 * di + di), r * di);
    z.set(xz.subarray(r * 2 * di + di, (r + 1) * 2 * di), r * di);
  }
  const A_log = P('A_log'),
    D = P('D'),
    dtBias = P('dt_proj_bias'),
    convW = P('conv_weight'),
    convB = P('conv_bias');
  let y: Float32Array; // (B, L, di) merged
  if (mixer === 'cpu') {
    const xs = causalConv1dRef(crossScanRef(x, B, L, di, grid), convW, convB, B, K, L, di, 4, true);
    const { xdbl, dt, S } = projections(xs, c, P('x_proj_weight'), P('dt_proj_weight'));
    const col = (off: number) => {
      const o = new Float32Array(B * K * L * N);
      for (let r = 0; r < B * K * L; r++) o.set(xdbl.subarray(r * S + off, r * S + off + N), r * N);
      return o;
    };
    const ys = selectiveScanRef({ u: xs, delta: dt, A_log, B: col(R), C: col(R + N), D, dtBias }, B, K, L, di, N);
    y = crossMergeRef(ys, B, L, di, grid);
  } else {
    const fused = mixer === 'gpu-fused';
    const tx = e.fromArray([B, L, di], x);
    const tw = e.fromArray([K, di, 4], convW);
    const tb = e.fromArray([K, di], convB);
    let xsT: Tensor;
    if (fused)
      xsT = causalConv1dCrossScan(e, tx, tw, tb, grid, { silu: true }); // (B, K, L, di) token order
    else {
      const g = crossScan(e, tx, grid);
      xsT = causalConv1d(e, g, tw, tb, { silu: true }); // (B, K, L, di) scan order
      g.dispose();
    }
    const xs = await e.readF32(xsT);
    const { xdbl, dt, S } = projections(xs, c, P('x_proj_weight'), P('dt_proj_weight'));
    const txd = e.fromArray([B, K, L, S], xdbl);
    // the dt columns through the GPU glue must equal the CPU split (exact copy)
    const dtCols = await e.readF32(sliceColumns(e, txd, 0, R));
    const cpuCols = new Float32Array(B * K * L * R);
    for (let r = 0; r < B * K * L; r++) cpuCols.set(xdbl.subarray(r * S, r * S + R), r * R);
    expectClose(dtCols, cpuCols, 0, 'sliceColumns');
    const inputs = {
      u: xsT,
      delta: e.fromArray([B, K, L, di], dt),
      A_log: e.fromArray([K, di, N], A_log),
      BC: txd,
      bOffset: R,
      cOffset: R + N,
      D: e.fromArray([K, di], D),
      deltaBias: e.fromArray([K, di], dtBias),
    };
    let yT: Tensor;
    if (fused) yT = selectiveScanFused(e, inputs, grid);
    else {
      const ys = selectiveScan(e, inputs);
      yT = crossMerge(e, ys, grid);
      ys.dispose();
    }
    y = await e.readF32(yT);
    for (const t of [tx, tw, tb, xsT, txd, inputs.delta, inputs.A_log, inputs.D, inputs.deltaBias, yT]) t.dispose();
  }
  // y = LayerNorm(y) · SiLU(z);  h + gate · (y · W_out^T)
  const lw = P('out_norm.weight'),
    lb = P('out_norm.bias');
  const yn = new Float32Array(B * L * di);
  for (let r = 0; r < B * L; r++) {
    let m = 0,
      v = 0;
    for (let j = 0; j < di; j++) m += y[r * di + j]!;
    m /= di;
    for (let j = 0; j < di; j++) v += (y[r * di + j]! - m) ** 2;
    const rs = 1 / Math.sqrt(v / di + 1e-5);
    for (let j = 0; j < di; j++) yn[r * di + j] = ((y[r * di + j]! - m) * rs * lw[j]! + lb[j]!) * silu(z[r * di + j]!);
  }
  const o = linear(yn, B * L, di, P('out_proj.weight'), d);
  const out = new Float32Array(h.length);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < L; t++)
      for (let j = 0; j < d; j++) {
        const idx = (b * L + t) * d + j;
        out[idx] = h[idx]! + mod[b * 3 * d + 2 * d + j]! * o[idx]!;
      }
  return out;
}

describe('M-Mamba layers vs PyTorch (mmamba_tiny golden fixture)', async () => {
  const fixture = (await import('./fixtures/mmamba_tiny/fixture.json')).default as {
    config: Record<string, unknown> & { text: { max_len: number } };
  };
  const cfgJ = fixture.config as unknown as {
    d: number;
    d_inner: number;
    d_state: number;
    dt_rank: number;
    directions: 1 | 2 | 4;
    grid: number;
    seq_len: number;
    cond_dim: number;
    layers: number;
    text_position: 'first' | 'middle';
    text: { max_len: number };
  };
  const arrays = readSafetensors(`${DIR}/arrays.safetensors`);
  const weights = readSafetensors(`${DIR}/model-00000.safetensors`);
  const embed = arrays.get('stage.embed')!;
  const c: Cfg = {
    B: embed.shape[0]!,
    L: cfgJ.seq_len,
    d: cfgJ.d,
    di: cfgJ.d_inner,
    N: cfgJ.d_state,
    R: cfgJ.dt_rank,
    K: cfgJ.directions,
    grid: {
      textLen: cfgJ.text.max_len,
      grid: cfgJ.grid,
      directions: cfgJ.directions,
      textPosition: cfgJ.text_position,
    },
    cond: cfgJ.cond_dim,
  };
  for (const mixer of ['cpu', 'gpu', 'gpu-fused'] as const)
    it(`every layer with the ${mixer} mixer`, async () => {
      const e = await getEngine();
      let h = f32(arrays, 'stage.embed');
      for (let i = 0; i < cfgJ.layers; i++) {
        const want = f32(arrays, `stage.layer${i}`);
        const got = await layer(e, weights as never, i, h, f32(arrays, 'stage.c'), c, mixer);
        // the update alone (out − h) is compared too: the residual would hide a small mixer error
        const dGot = got.map((v, j) => v - h[j]!);
        const dWant = want.map((v, j) => v - h[j]!);
        expectClose(got, want, TOL, `${mixer} layer${i}`);
        expectClose(dGot, dWant, 1e-3, `${mixer} layer${i} update`);
        h = want; // next layer from PyTorch's input, so errors do not carry over
      }
    });
});
