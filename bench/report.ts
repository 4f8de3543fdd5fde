// Report formatting: markdown tables (kernels with achieved rates and floors; layers M-Mamba vs UViT) and the
// JSON document written by --json. Floor of a kernel = max(minimal bytes / peak bandwidth, FLOPs / peak FLOP rate);
// "of floor" = floor / measured time (1.0 = at the ceiling).
import type { BenchConfig } from './config';
import type { KernelRow } from './kernels';
import type { LayerRow } from './layers';

export interface RunInfo {
  adapter: string;
  features: string[];
  timestamps: boolean;
  mode: 'full' | 'quick';
  date: string;
  wallSeconds: number;
  /** Cases skipped because the time budget (--budget) was spent. */
  skipped: string[];
}

export interface Floors {
  memUs: number;
  flopUs: number;
  floorUs: number;
  gbps: number;
  gflops: number;
  ofFloor: number;
}

export function floors(r: KernelRow, cfg: BenchConfig): Floors {
  const t = r.timing.medianUs;
  const memUs = (r.bytes / cfg.peakBytesPerS) * 1e6;
  const flopUs = (r.flops / cfg.peakFlopsPerS) * 1e6;
  const floorUs = Math.max(memUs, flopUs);
  return { memUs, flopUs, floorUs, gbps: r.bytes / t / 1e3, gflops: r.flops / t / 1e3, ofFloor: floorUs / t };
}

const f = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const pct = (x: number) => (!Number.isFinite(x) ? '–' : x < 0.001 ? '<0.1%' : `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%`);

export function kernelTable(rows: KernelRow[], cfg: BenchConfig): string {
  const out = [
    '| group | kernel | shape | time (µs) | back-to-back (µs) | GB/s | GFLOP/s | floor mem (µs) | floor FLOP (µs) | of floor |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const x = floors(r, cfg);
    out.push(
      `| ${r.group} | ${r.kernel} | ${r.shape} | ${f(r.timing.medianUs)} | ${f(r.backToBackUs)} | ${f(x.gbps, 0)} | ${r.flops ? f(x.gflops, 0) : '–'} | ${f(x.memUs, 2)} | ${r.flops ? f(x.flopUs, 2) : '–'} | ${pct(x.ofFloor)} |`,
    );
  }
  return out.join('\n');
}

export function layerTable(rows: LayerRow[]): string {
  const out = [
    '| layer | d | B | L | dispatches | Σ per-dispatch (µs) | back-to-back (µs) | core (µs) | core share | vs UViT (back-to-back) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const u = rows.find((x) => x.model === 'UViT' && x.d === r.d && x.B === r.B);
    const ratio = u && r.model === 'M-Mamba' ? `${f(r.backToBackUs / u.backToBackUs, 2)}×` : '';
    out.push(
      `| ${r.model} | ${r.d} | ${r.B} | ${r.L} | ${r.dispatches} | ${f(r.sumUs)} | ${f(r.backToBackUs)} | ${f(r.coreUs)} | ${pct(r.coreUs / r.sumUs)} | ${ratio} |`,
    );
  }
  return out.join('\n');
}

export function stageTable(rows: LayerRow[]): string {
  const out: string[] = [];
  for (const r of rows) {
    out.push(
      `**${r.model}, d=${r.d}, B=${r.B}** (core: ${r.coreWhat})`,
      '',
      '| stage | µs | share |',
      '|---|---:|---:|',
    );
    for (const s of r.stages) out.push(`| ${s.stage} | ${f(s.us)} | ${pct(s.us / r.sumUs)} |`);
    out.push('');
  }
  return out.join('\n');
}

export function markdown(
  info: RunInfo,
  cfg: BenchConfig,
  calib: KernelRow[],
  kernels: KernelRow[],
  layers: LayerRow[],
): string {
  const copy = calib.find((r) => r.kernel.startsWith('copy'));
  const mm = calib.find((r) => r.kernel.startsWith('matmul'));
  const lines = [
    `# M-Mamba Web kernel benchmark (${info.mode})`,
    '',
    `- adapter: ${info.adapter}`,
    `- timing: ${info.timestamps ? 'GPU timestamp queries (one pass per dispatch), median' : 'wall clock around queue completion (no timestamp-query), median'} of ${cfg.reps} reps after ${cfg.warmup} warm-up`,
    `- peaks for the floors: ${f(cfg.peakBytesPerS / 1e9, 0)} GB/s (copy, read + write) and ${f(cfg.peakFlopsPerS / 1e9, 0)} GFLOP/s (f32 matmul), the H200 probe's (docs/benchmarks.md "Method")`,
    `- measured in this run: copy ${copy ? f(floors(copy, cfg).gbps, 0) : '–'} GB/s (${copy?.shape ?? ''} f32), matmul ${mm ? f(floors(mm, cfg).gflops, 0) : '–'} GFLOP/s (${mm?.shape ?? ''})`,
    `- ${info.date}, ${f(info.wallSeconds, 0)} s wall${info.skipped.length ? `; time budget spent, SKIPPED: ${info.skipped.join('; ')}` : ''}`,
    '',
    '## Targets (docs/architecture.md)',
    '',
    targets(cfg, kernels, layers),
    '',
    '## Calibration',
    '',
    kernelTable(calib, cfg),
    '',
    '## Kernels',
    '',
    'time: median of one timestamped pass per dispatch; back-to-back: reps recorded in one pass (with the barriers',
    'between dependent dispatches), per rep. GB/s, GFLOP/s and "of floor" use time. Floor: each input read once and',
    'each output written once (f32), over the peak bandwidth; FLOPs over the peak FLOP rate; "of floor" =',
    'max(floors) / time. x_proj/dt_proj weights count once per direction. The fused scan also writes and re-reads a',
    '(B, K, L, di) scratch of per-direction outputs, which the floor does not count.',
    '',
    kernelTable(kernels, cfg),
    '',
    '## Layers: M-Mamba vs UViT at equal width',
    '',
    'M-Mamba runs over L = text + image tokens; UViT self-attends over the image tokens and cross-attends to the text',
    "(as training/mmamba/uvit.py). Σ per-dispatch: sum of the kernels' own times (one timestamped pass each);",
    'back-to-back: the whole layer recorded in one pass, timed from the first to the last dispatch. Core: the',
    'sequence-mixing kernels only. Gated residual = mul + add (no fused op yet; gate stood in for by a (d) vector).',
    '',
    layerTable(layers),
    '',
    '### Per-stage breakdown (Σ per-dispatch medians)',
    '',
    stageTable(layers),
  ];
  return lines.join('\n');
}

/** The two kernel-speed targets of docs/architecture.md ("Targets") read off this run. */
function targets(cfg: BenchConfig, kernels: KernelRow[], layers: LayerRow[]): string {
  const out: string[] = [];
  for (const r of kernels.filter((k) => k.kernel.startsWith('conv1d+cross-scan → selectiveScanFused'))) {
    const x = floors(r, cfg);
    const t = r.timing.medianUs;
    out.push(
      `- fused conv + cross-scan + selective scan, ${r.shape}: ${f(t)} µs = ${f(t / x.memUs, 2)}× its memory-traffic floor ${f(x.memUs, 2)} µs (target ≤ 2×); ${f(t / x.flopUs, 2)}× its FLOP floor ${f(x.flopUs, 2)} µs (exp counted as 1 FLOP)`,
    );
  }
  for (const m of layers.filter((l) => l.model === 'M-Mamba')) {
    const u = layers.find((l) => l.model === 'UViT' && l.d === m.d && l.B === m.B);
    if (!u) continue;
    const bb = m.backToBackUs / u.backToBackUs;
    out.push(
      `- M-Mamba / UViT layer, d=${m.d}, B=${m.B}: ${f(Number.isFinite(bb) ? bb : m.sumUs / u.sumUs, 2)}× (back-to-back ${f(m.backToBackUs)} vs ${f(u.backToBackUs)} µs; Σ per-dispatch ${f(m.sumUs)} vs ${f(u.sumUs)} µs; target < 1)`,
    );
  }
  return out.length ? out.join('\n') : '- (no target rows in this run)';
}
