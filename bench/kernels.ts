// Per-kernel benchmarks at model shapes: every forward op of src/engine/ops, with its minimal memory traffic
// (each input read once, each output written once; f32) and FLOP count, so the report can set each kernel
// against its floor max(bytes / peak bandwidth, FLOPs / peak FLOP rate). Also the calibration kernels: a plain
// vec4 copy and a big square matmul, measured in the same run as the reference ceilings.
import { uniforms, type Engine } from '../src/engine/engine';
import { Tensor } from '../src/engine/tensor';
import { crossAttentionPacked, selfAttentionPacked } from '../src/engine/ops/attention';
import { causalConv1d, causalConv1dCrossScan } from '../src/engine/ops/conv1d';
import { conv2d } from '../src/engine/ops/conv2d';
import { crossMerge, crossScan } from '../src/engine/ops/cross_scan';
import type { ScanGrid } from '../src/engine/ops/cross_scan_geom';
import { add, mul, silu, softplus } from '../src/engine/ops/elementwise';
import { embedding } from '../src/engine/ops/embedding';
import { geglu } from '../src/engine/ops/geglu';
import { groupNorm } from '../src/engine/ops/groupnorm';
import { linear, matmul } from '../src/engine/ops/matmul';
import { layerNorm, rmsNorm } from '../src/engine/ops/norm';
import { gumbelMaxSample, maskgitUpdate } from '../src/engine/ops/sampling';
import {
  selectiveScan,
  selectiveScanChunked,
  selectiveScanFused,
  type ScanInputs,
} from '../src/engine/ops/selective_scan';
import { sliceColumns } from '../src/engine/ops/split_columns';
import { softmax } from '../src/engine/ops/softmax';
import { upsampleNearest2x } from '../src/engine/ops/upsample';
import type { BenchConfig } from './config';
import { timeBackToBack, timeWork, type Produced, type Timing } from './harness';

const F = 4; // bytes per f32 / u32 element

export interface KernelRow {
  group: string;
  kernel: string;
  shape: string;
  bytes: number;
  flops: number;
  timing: Timing;
  /** µs per rep with the reps recorded back to back in one pass (no per-dispatch passes); NaN without timestamps. */
  backToBackUs: number;
}

/** Deterministic pseudo-random values in [lo, hi): one 64 Ki-element block, tiled (fast for big tensors). */
const BLOCK = (() => {
  const b = new Float32Array(1 << 16);
  let s = 0x9e3779b9;
  for (let i = 0; i < b.length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    b[i] = s / 4294967296;
  }
  return b;
})();

export function rand(e: Engine, shape: number[], lo = -1, hi = 1, label = 'bench.in'): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * BLOCK[i & 0xffff]!;
  return e.fromArray(shape, data, 'f32', label);
}

export function randIds(e: Engine, shape: number[], V: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Uint32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.floor(BLOCK[(i * 7) & 0xffff]! * V);
  return e.fromArray(shape, data, 'u32', 'bench.ids');
}

/** A reshaped alias of `t` (same buffer, not owned: never dispose it; dispose `t`). */
export function view(t: Tensor, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== t.size) throw new Error(`view: ${t} cannot be viewed as [${shape.join(', ')}]`);
  return new Tensor(shape, t.dtype, t.buffer, null, `${t.label}.view`);
}

const fmt = (s: number[]) => s.join('×');

/** Collects rows; `inputs` are disposed after the kernel is timed. */
class Suite {
  rows: KernelRow[] = [];
  constructor(
    readonly e: Engine,
    readonly cfg: BenchConfig,
    readonly log: (s: string) => void,
  ) {}

  skipped: string[] = [];

  async run(
    group: string,
    kernel: string,
    shape: string,
    bytes: number,
    flops: number,
    inputs: Tensor[],
    work: () => Produced,
  ) {
    if (performance.now() > this.cfg.kernelDeadlineMs) {
      this.skipped.push(`${kernel} ${shape}`);
      for (const t of inputs) t.dispose();
      return;
    }
    try {
      const timing = await timeWork(this.e, work, { warmup: this.cfg.warmup, reps: this.cfg.reps });
      const backToBackUs = await timeBackToBack(this.e, work, this.cfg.quick ? 1 : 20, this.cfg.quick ? 1 : 3);
      this.rows.push({ group, kernel, shape, bytes, flops, timing, backToBackUs });
      this.log(`  ${kernel} ${shape}: ${timing.medianUs.toFixed(1)} µs`);
    } catch (err) {
      this.log(`  ${kernel} ${shape}: FAILED ${(err as Error).message}`);
    } finally {
      for (const t of inputs) t.dispose();
    }
  }
}

const COPY_WGSL = `
// Calibration: plain vec4 copy, one element per thread, grid-stride free (2-D grid of 256-thread workgroups).
struct P { n4: u32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4f>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = g.x + g.y * nwg.x * 256u;
  if (i < p.n4) { dst[i] = src[i]; }
}`;

export async function calibrate(e: Engine, cfg: BenchConfig, log: (s: string) => void): Promise<KernelRow[]> {
  const s = new Suite(e, cfg, log);
  const n = cfg.calibCopy;
  {
    const src = rand(e, [n]);
    const dst = e.empty([n], 'f32', 'calib.dst');
    const wg = Math.ceil(n / 4 / 256);
    const x = Math.min(wg, 65535);
    const y = Math.ceil(wg / x);
    await s.run('calibration', 'copy (vec4)', fmt([n]), 2 * n * F, 0, [src, dst], () => {
      e.dispatch({
        code: COPY_WGSL,
        bindings: [uniforms([n / 4, 0, 0, 0]), src, dst],
        workgroups: [x, y],
        label: 'calib_copy',
      });
    });
  }
  {
    const m = cfg.calibMatmul;
    const a = rand(e, [m, m]);
    const b = rand(e, [m, m]);
    await s.run('calibration', 'matmul (engine, square)', fmt([m, m, m]), 3 * m * m * F, 2 * m ** 3, [a, b], () =>
      matmul(e, a, b),
    );
  }
  return s.rows;
}

export async function kernelSuite(
  e: Engine,
  cfg: BenchConfig,
  log: (s: string) => void,
  skipped: string[] = [],
): Promise<KernelRow[]> {
  const s = new Suite(e, cfg, log);
  const { d, di, N, dtRank: R, K, heads } = cfg;
  const HW = cfg.grid * cfg.grid;
  const L = cfg.textLen + HW;
  const S = R + 2 * N; // x_proj output width: dt | B | C
  const grid: ScanGrid = { textLen: cfg.textLen, grid: cfg.grid, directions: K };
  const ffn = cfg.ffnMult * d;

  for (const B of cfg.batches) {
    e.pool.trim(); // drop the previous batch size's free buffers
    log(`kernels at B=${B}, L=${L}`);
    const M = B * L;
    // ---- projections (PyTorch Linear: y = x W^T) --------------------------------------------------------
    for (const [name, inF, outF] of [
      ['linear in_proj', d, 2 * di],
      ['linear out_proj', di, d],
      ['linear ffn w_in (GEGLU)', d, 2 * ffn],
      ['linear ffn w_out', ffn, d],
    ] as const) {
      const x = rand(e, [B, L, inF]);
      const w = rand(e, [outF, inF], -0.05, 0.05);
      await s.run(
        'projection',
        name,
        `${fmt([B, L, inF])} · ${fmt([outF, inF])}ᵀ`,
        (M * inF + outF * inF + M * outF) * F,
        2 * M * inF * outF,
        [x, w],
        () => linear(e, x, w),
      );
    }
    {
      // x_proj / dt_proj are per-direction weights over (B, K) batches; the engine's batched matmul pairs batch
      // i of A with batch i of B, so the K weights are replicated B times (floor counts them once).
      const u = rand(e, [B * K, L, di]);
      const wx = rand(e, [B * K, S, di], -0.05, 0.05);
      await s.run(
        'projection',
        'matmul x_proj (per direction)',
        `${fmt([B * K, L, di])} · ${fmt([K, S, di])}ᵀ`,
        (B * K * L * di + K * S * di + B * K * L * S) * F,
        2 * B * K * L * di * S,
        [u, wx],
        () => matmul(e, u, wx, { transB: true }),
      );
      const dt = rand(e, [B * K, L, R]);
      const wdt = rand(e, [B * K, di, R], -0.1, 0.1);
      await s.run(
        'projection',
        'matmul dt_proj (per direction)',
        `${fmt([B * K, L, R])} · ${fmt([K, di, R])}ᵀ`,
        (B * K * L * R + K * di * R + B * K * L * di) * F,
        2 * B * K * L * R * di,
        [dt, wdt],
        () => matmul(e, dt, wdt, { transB: true }),
      );
      const xdbl = rand(e, [B * K, L, S]);
      await s.run('glue', 'sliceColumns dt', `${fmt([B * K, L, S])} → ${R}`, 2 * B * K * L * R * F, 0, [xdbl], () =>
        sliceColumns(e, xdbl, 0, R),
      );
    }
    // ---- norms and elementwise -------------------------------------------------------------------------
    {
      const h = rand(e, [B, L, d]);
      const mod = rand(e, [B, 3 * d], -0.1, 0.1);
      await s.run(
        'norm',
        'rmsNorm + adaLN modulation',
        fmt([B, L, d]),
        (2 * M * d + 2 * B * d) * F,
        6 * M * d,
        [h, mod],
        () => rmsNorm(e, h, { shift: { tensor: mod, offset: 0 }, scale: { tensor: mod, offset: d } }),
      );
      const y = rand(e, [B, L, di]);
      const w = rand(e, [di]);
      const b = rand(e, [di]);
      await s.run('norm', 'layerNorm (affine)', fmt([B, L, di]), (2 * M * di + 2 * di) * F, 8 * M * di, [w, b], () =>
        layerNorm(e, y, { weight: w, bias: b }),
      );
      await s.run('elementwise', 'silu', fmt([B, L, di]), 2 * M * di * F, 4 * M * di, [], () => silu(e, y));
      await s.run('elementwise', 'softplus', fmt([B, L, di]), 2 * M * di * F, 4 * M * di, [], () => softplus(e, y));
      const z = rand(e, [B, L, di]);
      await s.run('elementwise', 'add', fmt([B, L, di]), 3 * M * di * F, M * di, [], () => add(e, y, z));
      await s.run('elementwise', 'mul', fmt([B, L, di]), 3 * M * di * F, M * di, [y, z], () => mul(e, y, z));
      const gi = rand(e, [B, HW, 2 * ffn]);
      await s.run(
        'elementwise',
        'geglu',
        `${fmt([B, HW, 2 * ffn])} → ${ffn}`,
        3 * B * HW * ffn * F,
        12 * B * HW * ffn,
        [gi],
        () => geglu(e, gi),
      );
      const ids = randIds(e, [B, HW], cfg.codebook + 1);
      const table = rand(e, [cfg.codebook + 1, d]);
      await s.run(
        'elementwise',
        'embedding',
        `${fmt([B, HW])} of ${fmt([cfg.codebook + 1, d])}`,
        (B * HW + 2 * B * HW * d) * F,
        0,
        [ids, table],
        () => embedding(e, ids, table),
      );
      const logits = rand(e, [B, HW, cfg.codebook], -4, 4);
      await s.run(
        'elementwise',
        'softmax',
        fmt([B, HW, cfg.codebook]),
        2 * B * HW * cfg.codebook * F,
        5 * B * HW * cfg.codebook,
        [logits],
        () => softmax(e, logits),
      );
    }
    // ---- attention (heads of d / heads) -----------------------------------------------------------------
    {
      const Dh = d / heads;
      const qkv = rand(e, [B, HW, 3 * d]);
      await s.run(
        'attention',
        `self-attention (${heads} heads)`,
        `${fmt([B, HW, 3 * d])} → ${fmt([B, HW, d])}`,
        (B * HW * 3 * d + B * HW * d) * F,
        4 * B * heads * HW * HW * Dh,
        [qkv],
        () => selfAttentionPacked(e, qkv, heads),
      );
      const q = rand(e, [B, HW, d]);
      const kv = rand(e, [B, cfg.textLen, 2 * d]);
      await s.run(
        'attention',
        `cross-attention (${heads} heads)`,
        `${fmt([B, HW, d])} × ${fmt([B, cfg.textLen, 2 * d])}`,
        (2 * B * HW * d + B * cfg.textLen * 2 * d) * F,
        4 * B * heads * HW * cfg.textLen * Dh,
        [q, kv],
        () => crossAttentionPacked(e, q, kv, heads),
      );
    }
    // ---- M-Mamba sequence mixing ------------------------------------------------------------------------
    {
      const x = rand(e, [B, L, di]);
      const cw = rand(e, [K, di, 4], -0.5, 0.5);
      const cb = rand(e, [K, di], -0.1, 0.1);
      const xk = rand(e, [B, K, L, di]);
      const wBytes = (K * di * 4 + K * di) * F;
      await s.run('ssm', 'crossScan', `${fmt([B, L, di])} → K=${K}`, (M * di + B * K * L * di) * F, 0, [], () =>
        crossScan(e, x, grid),
      );
      await s.run(
        'ssm',
        'crossMerge',
        `${fmt([B, K, L, di])} → ${fmt([B, L, di])}`,
        (M * di + B * K * L * di) * F,
        B * K * L * di,
        [],
        () => crossMerge(e, xk, grid),
      );
      await s.run(
        'ssm',
        'causalConv1d + SiLU (scan order)',
        fmt([B, K, L, di]),
        2 * B * K * L * di * F + wBytes,
        12 * B * K * L * di,
        [],
        () => causalConv1d(e, xk, cw, cb, { silu: true }),
      );
      await s.run(
        'ssm',
        'causalConv1d + cross-scan + SiLU (fused)',
        `${fmt([B, L, di])} → ${fmt([B, K, L, di])}`,
        (M * di + B * K * L * di) * F + wBytes,
        12 * B * K * L * di,
        [x, cw, cb],
        () => causalConv1dCrossScan(e, x, cw, cb, grid, { silu: true }),
      );
      // selective scan inputs
      const scanIn: ScanInputs = {
        u: xk,
        delta: rand(e, [B, K, L, di], -3, 0),
        A_log: rand(e, [K, di, N], 0, 2.7),
        BC: rand(e, [B, K, L, S]),
        D: rand(e, [K, di]),
        deltaBias: rand(e, [K, di], -4, -2),
        bOffset: R,
        cOffset: R + N,
      };
      const params = (K * di * N + 2 * K * di) * F;
      const bcBytes = B * K * L * 2 * N * F; // only the B and C columns are read
      const inBytes = 2 * B * K * L * di * F + bcBytes + params;
      const scanFlops = B * K * L * di * (6 * N + 8); // per state: exp, 2 mul + add (update), mul + add (output)
      await s.run(
        'ssm',
        'selectiveScan (unfused, scan order)',
        `${fmt([B, K, L, di])} N=${N}`,
        inBytes + B * K * L * di * F,
        scanFlops,
        [],
        () => selectiveScan(e, scanIn),
      );
      await s.run(
        'ssm',
        'selectiveScan + crossMerge (unfused pair)',
        `${fmt([B, K, L, di])} N=${N}`,
        inBytes + M * di * F,
        scanFlops,
        [],
        () => {
          const y = selectiveScan(e, scanIn);
          const o = crossMerge(e, y, grid);
          y.dispose();
          return o;
        },
      );
      for (const cpw of [undefined, 4, 8, 16, 32]) {
        await s.run(
          'ssm',
          `selectiveScanFused (cpw=${cpw ?? 'auto'})`,
          `${fmt([B, K, L, di])} N=${N} → ${fmt([B, L, di])}`,
          inBytes + M * di * F,
          scanFlops,
          [],
          () => selectiveScanFused(e, scanIn, grid, cpw ? { channelsPerWorkgroup: cpw } : {}),
        );
      }
      // the chunk-parallel candidate (with its crossMerge; it writes and re-reads a (B, K, L, di) y as well)
      for (const [chunks, cb] of [
        [4, 32],
        [8, 16],
        [16, 8],
      ] as const) {
        await s.run(
          'ssm',
          `selectiveScanChunked (chunks=${chunks}, cpw=${cb})`,
          `${fmt([B, K, L, di])} N=${N} → ${fmt([B, L, di])}`,
          inBytes + M * di * F,
          scanFlops,
          [],
          () => selectiveScanChunked(e, scanIn, grid, { chunks, channelsPerWorkgroup: cb }),
        );
      }
      // the DESIGN target: fused conv + cross-scan then fused scan, against the floor of the pair (x, Δ, B/C and
      // parameters read once, y written once; the (B, K, L, di) conv output in between is not counted)
      const x2 = rand(e, [B, L, di]);
      const cw2 = rand(e, [K, di, 4], -0.5, 0.5);
      const cb2 = rand(e, [K, di], -0.1, 0.1);
      await s.run(
        'ssm',
        'conv1d+cross-scan → selectiveScanFused (pair)',
        `${fmt([B, L, di])} → ${fmt([B, L, di])} K=${K} N=${N}`,
        inBytes - B * K * L * di * F + M * di * F + wBytes + M * di * F,
        scanFlops + 12 * B * K * L * di,
        [x2, cw2, cb2],
        () => {
          const u = causalConv1dCrossScan(e, x2, cw2, cb2, grid, { silu: true });
          const o = selectiveScanFused(e, { ...scanIn, u }, grid);
          u.dispose();
          return o;
        },
      );
      for (const t of [scanIn.delta, scanIn.A_log, scanIn.BC, scanIn.D, scanIn.deltaBias, xk]) t.dispose();
    }
  }

  // ---- sampling ------------------------------------------------------------------------------------------
  {
    const V = cfg.codebook;
    const logits = rand(e, [2, HW, V], -4, 4);
    await s.run(
      'sampling',
      'gumbelMaxSample (CFG: cond+uncond)',
      fmt([2, HW, V]),
      (2 * HW * V + 2 * HW) * F,
      8 * HW * V,
      [],
      () => gumbelMaxSample(e, logits, { seed: 1, stream: 0, guidance: 3 }),
    );
    await s.run(
      'sampling',
      'gumbelMaxSample',
      fmt([2, HW, V]),
      (2 * HW * V + 4 * HW) * F,
      8 * 2 * HW * V,
      [logits],
      () => gumbelMaxSample(e, logits, { seed: 1, stream: 0 }),
    );
    const tokens = randIds(e, [2, HW], V + 1);
    const sampled = randIds(e, [2, HW], V);
    const logp = rand(e, [2, HW], -5, 0);
    await s.run('sampling', 'maskgitUpdate', fmt([2, HW]), 5 * 2 * HW * F, 0, [tokens, sampled, logp], () =>
      maskgitUpdate(e, tokens, sampled, logp, { seed: 1, step: 3, steps: 12, tau: 4.5, maskId: V }),
    );
  }

  // ---- VQ decoder (NCHW): conv_in, per-level ResBlock convs, fused upsample+conv, GroupNorm+SiLU, conv_out --
  {
    const v = cfg.vq;
    const chs = v.mult.map((m) => v.ch * m);
    const g0 = v.image >> (v.mult.length - 1);
    const Bv = v.batch;
    const convs: [string, number, number, number, boolean][] = []; // name, cin, cout, side (output), upsampled input
    convs.push(['conv_in', v.codeDim, chs[chs.length - 1]!, g0, false]);
    let side = g0;
    for (let i = chs.length - 1; i >= 0; i--) {
      const cin = i === chs.length - 1 ? chs[i]! : chs[i + 1]!;
      convs.push([`res conv L${i}`, cin, chs[i]!, side, false]);
      if (i > 0) {
        convs.push([`up conv L${i} (fused ×2)`, chs[i]!, chs[i]!, side * 2, true]);
        side *= 2;
      }
    }
    convs.push(['conv_out', chs[0]!, 3, side, false]);
    for (const [name, cin, cout, so, up] of convs) {
      const si = up ? so / 2 : so;
      const x = rand(e, [Bv, cin, si, si]);
      const w = rand(e, [cout, cin, 3, 3], -0.1, 0.1);
      const b = rand(e, [cout]);
      await s.run(
        'vq',
        `conv2d 3×3 ${name}`,
        `${fmt([Bv, cin, si, si])} → ${fmt([Bv, cout, so, so])}`,
        (Bv * cin * si * si + cout * cin * 9 + cout + Bv * cout * so * so) * F,
        2 * Bv * cout * so * so * cin * 9,
        [x, w, b],
        () => conv2d(e, x, w, b, { upsample: up }),
      );
    }
    let s2 = g0;
    for (let i = chs.length - 1; i >= 0; i--) {
      const c = chs[i]!;
      const x = rand(e, [Bv, c, s2, s2]);
      const w = rand(e, [c]);
      const b = rand(e, [c]);
      await s.run(
        'vq',
        'groupNorm + SiLU',
        `${fmt([Bv, c, s2, s2])} G=${v.groups}`,
        (2 * Bv * c * s2 * s2 + 2 * c) * F,
        10 * Bv * c * s2 * s2,
        [w, b],
        () => groupNorm(e, x, v.groups, w, b, { silu: true }),
      );
      if (i > 0)
        await s.run('vq', 'upsampleNearest2x', `${fmt([Bv, c, s2, s2])} → ×2`, 5 * Bv * c * s2 * s2 * F, 0, [x], () =>
          upsampleNearest2x(e, x),
        );
      else x.dispose();
      if (i > 0) s2 *= 2;
    }
  }
  skipped.push(...s.skipped);
  if (s.skipped.length) log(`  time budget spent: skipped ${s.skipped.length} kernel cases`);
  return s.rows;
}
