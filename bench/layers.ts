// Layer-level comparison at equal width and sequence: one M-Mamba layer forward (training/mmamba/mmamba.py
// MMambaLayer: adaLN-Zero modulation, RMSNorm, in_proj, fused conv + cross-scan, x_proj, dt_proj, fused selective
// scan with in-kernel cross-merge, LayerNorm · SiLU(z), out_proj, gated residual) against one UViT layer
// (training/mmamba/uvit.py UViTLayer: adaLN self-attention over the image tokens, cross-attention to the text,
// adaLN GEGLU feed-forward), composed from the engine's ops the way the models compose them. Weights are random:
// only the timing matters here.
//
// Approximations (ops the engine does not have yet), stated in the report too:
//  - gated residual h + gate·y: `mul` + `add`; `mul` broadcasts its second operand along leading axes only, so
//    the (B, 1, d) gate is stood in for by a (d) vector (same memory traffic, exact for B = 1);
//  - x_proj / dt_proj: per-direction weights (K, ·, ·) are replicated over the batch (B·K, ·, ·), because the
//    batched matmul pairs batch i with batch i;
//  - in_proj as two Linears (x and z halves of W_in), so that x and z come out contiguous without a split copy.
import type { Engine } from '../src/engine/engine';
import type { Tensor } from '../src/engine/tensor';
import { crossAttentionPacked, selfAttentionPacked } from '../src/engine/ops/attention';
import { causalConv1dCrossScan } from '../src/engine/ops/conv1d';
import type { ScanGrid } from '../src/engine/ops/cross_scan_geom';
import { add, mul, silu } from '../src/engine/ops/elementwise';
import { geglu } from '../src/engine/ops/geglu';
import { linear, matmul } from '../src/engine/ops/matmul';
import { layerNorm, rmsNorm } from '../src/engine/ops/norm';
import { selectiveScanFused } from '../src/engine/ops/selective_scan';
import { sliceColumns } from '../src/engine/ops/split_columns';
import type { BenchConfig } from './config';
import { timeBackToBack, timeWork, type Produced } from './harness';
import { rand, view } from './kernels';

export interface LayerRow {
  model: 'M-Mamba' | 'UViT';
  d: number;
  B: number;
  L: number;
  /** Median of the summed per-dispatch GPU times (µs). */
  sumUs: number;
  /** Back-to-back GPU time of the whole layer in one pass (µs), NaN without timestamps. */
  backToBackUs: number;
  /** Summed per-dispatch time of the sequence-mixing core (µs): SSM core or attention core. */
  coreUs: number;
  coreWhat: string;
  dispatches: number;
  /** Per-stage medians (µs), in order. */
  stages: { stage: string; us: number }[];
}

/** Records stage names against dispatch indices, so per-dispatch timings can be summed per stage. */
class Stages {
  names: string[] = [];
  constructor(private readonly e: Engine) {}
  reset(): void {
    this.names = [];
  }
  run<T>(name: string, f: () => T): T {
    const before = this.e.dispatchCount;
    const r = f();
    for (let i = before; i < this.e.dispatchCount; i++) this.names.push(name);
    return r;
  }
}

interface Built {
  work: () => Produced;
  stages: Stages;
  core: Set<string>;
  coreWhat: string;
  dispose(): void;
}

function buildMamba(e: Engine, cfg: BenchConfig, d: number, B: number): Built {
  const di = 2 * d;
  const { N, K } = cfg;
  const R = Math.ceil(d / 16);
  const S = R + 2 * N;
  const L = cfg.textLen + cfg.grid * cfg.grid;
  const grid: ScanGrid = { textLen: cfg.textLen, grid: cfg.grid, directions: K };
  const w = {
    h: rand(e, [B, L, d]),
    c: rand(e, [B, d]),
    mod: rand(e, [3 * d, d], -0.02, 0.02),
    modB: rand(e, [3 * d], -0.02, 0.02),
    inX: rand(e, [di, d], -0.04, 0.04),
    inZ: rand(e, [di, d], -0.04, 0.04),
    convW: rand(e, [K, di, 4], -0.5, 0.5),
    convB: rand(e, [K, di], -0.1, 0.1),
    xProj: rand(e, [B * K, S, di], -0.03, 0.03),
    dtProj: rand(e, [B * K, di, R], -0.1, 0.1),
    dtBias: rand(e, [K, di], -4, -2),
    A_log: rand(e, [K, di, N], 0, 2.7),
    D: rand(e, [K, di], 0.5, 1.5),
    lnW: rand(e, [di], 0.9, 1.1),
    lnB: rand(e, [di], -0.1, 0.1),
    out: rand(e, [d, di], -0.03, 0.03),
    gate: rand(e, [d], -0.1, 0.1),
  };
  const st = new Stages(e);
  const work = () => {
    const t: Tensor[] = [];
    const keep = <T extends Tensor>(x: T) => (t.push(x), x);
    const mod = st.run('adaLN (silu + linear)', () => linear(e, keep(silu(e, w.c)), w.mod, w.modB, 'adaln')); // (B, 3d)
    const u = keep(
      st.run('rmsNorm + modulation', () =>
        rmsNorm(e, w.h, { shift: { tensor: mod, offset: 0 }, scale: { tensor: mod, offset: d } }),
      ),
    );
    const x = keep(st.run('in_proj', () => linear(e, u, w.inX, null, 'in_proj_x'))); // (B, L, di)
    const z = keep(st.run('in_proj', () => linear(e, u, w.inZ, null, 'in_proj_z'))); // (B, L, di)
    const s = keep(
      st.run('conv1d + cross-scan', () => causalConv1dCrossScan(e, x, w.convW, w.convB, grid, { silu: true })),
    ); // (B, K, L, di)
    const xdbl = keep(
      st.run('x_proj', () => matmul(e, view(s, [B * K, L, di]), w.xProj, { transB: true, label: 'x_proj' })),
    ); // (B·K, L, S)
    const dt = keep(st.run('dt_proj', () => sliceColumns(e, xdbl, 0, R))); // (B·K, L, R)
    // (B·K, L, di)
    const delta = keep(st.run('dt_proj', () => matmul(e, dt, w.dtProj, { transB: true, label: 'dt_proj' })));
    const y = keep(
      st.run('selective scan (fused, merge)', () =>
        selectiveScanFused(
          e,
          {
            u: s,
            delta: view(delta, [B, K, L, di]),
            A_log: w.A_log,
            BC: view(xdbl, [B, K, L, S]),
            D: w.D,
            deltaBias: w.dtBias,
            bOffset: R,
            cOffset: R + N,
          },
          grid,
        ),
      ),
    ); // (B, L, di)
    const yn = keep(st.run('layerNorm · silu(z)', () => layerNorm(e, y, { weight: w.lnW, bias: w.lnB })));
    const g = keep(st.run('layerNorm · silu(z)', () => mul(e, yn, keep(silu(e, z)))));
    const o = keep(st.run('out_proj', () => linear(e, g, w.out, null, 'out_proj'))); // (B, L, d)
    const hn = st.run('gated residual (mul + add)', () => add(e, w.h, keep(mul(e, o, w.gate))));
    keep(mod);
    return [t, hn];
  };
  const core = new Set(['conv1d + cross-scan', 'x_proj', 'dt_proj', 'selective scan (fused, merge)']);
  return {
    work,
    stages: st,
    core,
    coreWhat: 'conv1d+cross-scan, x_proj, dt_proj, fused scan',
    dispose: () =>
      Object.values(w).forEach((x) => {
        x.dispose();
      }),
  };
}

function buildUViT(e: Engine, cfg: BenchConfig, d: number, B: number): Built {
  const HW = cfg.grid * cfg.grid;
  const Lt = cfg.textLen;
  const heads = cfg.heads;
  const ffn = cfg.ffnMult * d;
  const w = {
    h: rand(e, [B, HW, d]),
    txt: rand(e, [B, Lt, d]),
    c: rand(e, [B, d]),
    mod1: rand(e, [3 * d, d], -0.02, 0.02),
    mod1B: rand(e, [3 * d]),
    qkv: rand(e, [3 * d, d], -0.04, 0.04),
    qkvB: rand(e, [3 * d], -0.01, 0.01),
    o: rand(e, [d, d], -0.04, 0.04),
    oB: rand(e, [d]),
    cnW: rand(e, [d], 0.9, 1.1),
    q: rand(e, [d, d], -0.04, 0.04),
    qB: rand(e, [d]),
    kv: rand(e, [2 * d, d], -0.04, 0.04),
    kvB: rand(e, [2 * d]),
    co: rand(e, [d, d], -0.04, 0.04),
    coB: rand(e, [d]),
    mod2: rand(e, [3 * d, d], -0.02, 0.02),
    mod2B: rand(e, [3 * d]),
    fin: rand(e, [2 * ffn, d], -0.04, 0.04),
    finB: rand(e, [2 * ffn]),
    fout: rand(e, [d, ffn], -0.02, 0.02),
    foutB: rand(e, [d]),
    gate: rand(e, [d], -0.1, 0.1),
  };
  const st = new Stages(e);
  const work = () => {
    const t: Tensor[] = [];
    const keep = <T extends Tensor>(x: T) => (t.push(x), x);
    const sc = keep(st.run('adaLN (silu + linear)', () => silu(e, w.c)));
    const m1 = keep(st.run('adaLN (silu + linear)', () => linear(e, sc, w.mod1, w.mod1B, 'adaln_attn'))); // (B, 3d)
    const n1 = keep(
      st.run('rmsNorm + modulation', () =>
        rmsNorm(e, w.h, { shift: { tensor: m1, offset: 0 }, scale: { tensor: m1, offset: d } }),
      ),
    );
    const qkv = keep(st.run('qkv / q / kv proj', () => linear(e, n1, w.qkv, w.qkvB, 'qkv'))); // (B, HW, 3d)
    const a = keep(st.run('self-attention', () => selfAttentionPacked(e, qkv, heads))); // (B, HW, d)
    const ao = keep(st.run('attn out proj', () => linear(e, a, w.o, w.oB, 'attn_out')));
    const h1 = keep(st.run('gated residual (mul + add)', () => add(e, w.h, keep(mul(e, ao, w.gate)))));
    const cn = keep(st.run('rmsNorm (cross)', () => rmsNorm(e, h1, { weight: w.cnW })));
    const q = keep(st.run('qkv / q / kv proj', () => linear(e, cn, w.q, w.qB, 'cross_q')));
    const kv = keep(st.run('qkv / q / kv proj', () => linear(e, w.txt, w.kv, w.kvB, 'cross_kv'))); // (B, Lt, 2d)
    const ca = keep(st.run('cross-attention', () => crossAttentionPacked(e, q, kv, heads)));
    const co = keep(st.run('attn out proj', () => linear(e, ca, w.co, w.coB, 'cross_out')));
    const h2 = keep(st.run('residual add', () => add(e, h1, co)));
    const m2 = keep(st.run('adaLN (silu + linear)', () => linear(e, sc, w.mod2, w.mod2B, 'adaln_ffn')));
    const n2 = keep(
      st.run('rmsNorm + modulation', () =>
        rmsNorm(e, h2, { shift: { tensor: m2, offset: 0 }, scale: { tensor: m2, offset: d } }),
      ),
    );
    const gi = keep(st.run('GEGLU FFN', () => linear(e, n2, w.fin, w.finB, 'ffn_in'))); // (B, HW, 2·ffn)
    const gg = keep(st.run('GEGLU FFN', () => geglu(e, gi))); // (B, HW, ffn)
    const fo = keep(st.run('GEGLU FFN', () => linear(e, gg, w.fout, w.foutB, 'ffn_out')));
    const h3 = st.run('gated residual (mul + add)', () => add(e, h2, keep(mul(e, fo, w.gate))));
    return [t, h3];
  };
  const core = new Set(['self-attention', 'cross-attention']);
  return {
    work,
    stages: st,
    core,
    coreWhat: 'self + cross attention kernels',
    dispose: () =>
      Object.values(w).forEach((x) => {
        x.dispose();
      }),
  };
}

export async function layerSuite(
  e: Engine,
  cfg: BenchConfig,
  log: (s: string) => void,
  skipped: string[] = [],
): Promise<LayerRow[]> {
  const rows: LayerRow[] = [];
  const L = cfg.textLen + cfg.grid * cfg.grid;
  for (const d of cfg.layerWidths)
    for (const B of cfg.layerBatches)
      for (const model of ['M-Mamba', 'UViT'] as const) {
        if (performance.now() > cfg.layerDeadlineMs) {
          skipped.push(`layer ${model} d=${d} B=${B}`);
          continue;
        }
        let built: Built | null = null;
        try {
          built = model === 'M-Mamba' ? buildMamba(e, cfg, d, B) : buildUViT(e, cfg, d, B);
          const b = built;
          const timing = await timeWork(
            e,
            () => {
              b.stages.reset();
              return b.work();
            },
            { warmup: cfg.warmup, reps: cfg.reps },
          );
          const names = b.stages.names;
          const stageUs = new Map<string, number>();
          let coreUs = 0;
          timing.perDispatch.forEach((p, i) => {
            const name = names[i] ?? p.label;
            stageUs.set(name, (stageUs.get(name) ?? 0) + p.us);
            if (b.core.has(name)) coreUs += p.us;
          });
          const btb = await timeBackToBack(e, b.work, cfg.quick ? 1 : 5, cfg.quick ? 1 : 5);
          const row: LayerRow = {
            model,
            d,
            B,
            L: model === 'UViT' ? cfg.grid * cfg.grid : L,
            sumUs: timing.medianUs,
            backToBackUs: btb,
            coreUs: timing.source === 'timestamp' ? coreUs : NaN,
            coreWhat: b.coreWhat,
            dispatches: timing.dispatches,
            stages: [...stageUs].map(([stage, us]) => ({ stage, us })),
          };
          rows.push(row);
          log(
            `  layer ${model} d=${d} B=${B}: ${row.sumUs.toFixed(1)} µs (sum), ${btb.toFixed(1)} µs (back to back), core ${row.coreUs.toFixed(1)} µs`,
          );
        } catch (err) {
          log(`  layer ${model} d=${d} B=${B}: FAILED ${(err as Error).message}`);
        } finally {
          built?.dispose();
          e.pool.trim();
        }
      }
  return rows;
}
