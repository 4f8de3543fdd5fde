// GPU benchmark entry (Node + Dawn through npm `webgpu`, DOM-free): acquires a device with timestamp queries,
// times every forward kernel at model shapes against its memory / FLOP floor, then one M-Mamba layer against one
// UViT layer at equal width. Prints markdown to stdout (progress to stderr) and optionally writes JSON.
// Usage: node .gpu/bench.mjs [--quick] [--grid G] [--width D] [--budget S] [--json out.json] [--only kernels|layers]
// Built and run by scripts/bench.sh (locally on SwiftShader) and staged for the H200 by scripts/stage-gpu.sh.
import { writeFileSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { acquireDevice, describeAdapter } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import { makeConfig } from './config';
import { calibrate, kernelSuite, type KernelRow } from './kernels';
import { layerSuite, type LayerRow } from './layers';
import { floors, markdown, type RunInfo } from './report';

Object.assign(globalThis, globals);

interface Args {
  quick: boolean;
  /** Override of the image grid side (e.g. --quick --grid 16: the model's sequence length at tiny widths). */
  grid: number | null;
  /** Override of the model width d (di = 2d, dt_rank = ceil(d / 16), layers at d only), e.g. --quick --width 512. */
  width: number | null;
  /** Seconds after which remaining cases are skipped: kernels get 60% of it, layers the rest. */
  budget: number;
  json: string | null;
  only: 'kernels' | 'layers' | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, grid: null, width: null, budget: 170, json: null, only: null };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--quick') a.quick = true;
    else if (x === '--json') a.json = argv[++i] ?? null;
    else if (x === '--budget') {
      a.budget = Number(argv[++i]);
      if (!(a.budget > 0)) throw new Error('--budget takes seconds > 0');
    } else if (x === '--width') {
      a.width = Number(argv[++i]);
      if (!Number.isInteger(a.width) || a.width < 8 || a.width % 8 !== 0)
        throw new Error('--width takes a multiple of 8');
    } else if (x === '--grid') {
      a.grid = Number(argv[++i]);
      if (!Number.isInteger(a.grid) || a.grid < 1 || a.grid > 32) throw new Error('--grid takes an integer in 1..32');
    } else if (x === '--only') {
      const v = argv[++i];
      if (v !== 'kernels' && v !== 'layers') throw new Error(`--only takes kernels or layers, got ${v}`);
      a.only = v;
    } else
      throw new Error(
        `unknown argument ${x} (use --quick, --grid G, --width D, --budget S, --json FILE, --only kernels|layers)`,
      );
  }
  return a;
}

/** Held for the life of the process: Dawn tears down the native instance (and crashes) if it is collected. */
let dawn: GPU | null = null;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const log = (s: string) => process.stderr.write(`${s}\n`);
  // timestamp_quantization (on by default) rounds timestamps for fingerprinting resistance: too coarse for µs kernels
  dawn = create(['disable-dawn-features=timestamp_quantization']) as unknown as GPU;
  const ctx = await acquireDevice(dawn, { label: 'bench' });
  ctx.device.addEventListener('uncapturederror', (ev) =>
    log(`WebGPU uncaptured error: ${(ev as GPUUncapturedErrorEvent).error.message}`),
  );
  const e = new Engine(ctx);
  const cfg = makeConfig(args.quick);
  if (args.grid) cfg.grid = args.grid;
  if (args.width) {
    cfg.d = args.width;
    cfg.di = 2 * args.width;
    cfg.dtRank = Math.ceil(args.width / 16);
    cfg.layerWidths = [args.width];
  }
  const adapter = describeAdapter(ctx.adapterInfo);
  log(`bench: ${adapter}; features ${ctx.features.join(', ')}; ${args.quick ? 'quick' : 'full'} shapes`);
  if (!ctx.hasTimestamps)
    log('bench: no timestamp-query: falling back to wall-clock times (they include submission overhead)');

  cfg.kernelDeadlineMs = t0 + (args.only === 'kernels' ? 1 : 0.6) * args.budget * 1e3;
  cfg.layerDeadlineMs = t0 + args.budget * 1e3;
  const calib = await calibrate(e, cfg, log);
  let kernels: KernelRow[] = [];
  let layers: LayerRow[] = [];
  const skipped: string[] = [];
  if (args.only !== 'layers') kernels = await kernelSuite(e, cfg, log, skipped);
  e.pool.trim();
  if (args.only !== 'kernels') layers = await layerSuite(e, cfg, log, skipped);

  const info: RunInfo = {
    adapter,
    features: ctx.features,
    timestamps: ctx.hasTimestamps,
    mode: args.quick ? 'quick' : 'full',
    date: new Date().toISOString(),
    wallSeconds: (performance.now() - t0) / 1e3,
    skipped,
  };
  process.stdout.write(`${markdown(info, cfg, calib, kernels, layers)}\n`);
  if (args.json) {
    const withFloors = (rows: KernelRow[]) => rows.map((r) => ({ ...r, ...floors(r, cfg) }));
    const doc = {
      info,
      config: cfg,
      limits: ctx.limits,
      calibration: withFloors(calib),
      kernels: withFloors(kernels),
      layers,
    };
    writeFileSync(args.json, JSON.stringify(doc, null, 1));
    log(`bench: wrote ${args.json}`);
  }
  e.dispose();
  ctx.device.destroy();
}

main().then(
  () => {
    void dawn;
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
