// npm run bench:profile: the per-step latency profile of guided generation (one image, so batch-2 forwards) with
// the default model of a models folder (bench/step_profiler.ts says what is measured and how). Prints markdown
// tables and, with --json, writes every number; runs unchanged on SwiftShader and on a real GPU.
// Usage: node profile_step.mjs [--models DIR] [--generator ID] [--vq ID] [--steps S] [--warmup W] [--guidance G]
//        [--scan fused|chunked] [--cpu-timing] [--json FILE]
//   --models DIR     a folder with index.json (default public/models; e2e/fixtures/models for a CI-sized smoke run)
//   --generator/--vq default to the index's defaultGenerator and tokenizer
//   --steps S        plain steps and profiled steps measured (default 12: one whole generation each)
//   --cpu-timing     CPU-side timing around one-dispatch submissions even when the adapter has timestamp-query
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { acquireDevice, describeAdapter } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import { MMamba } from '../src/model/mmamba';
import { TextToImage } from '../src/model/pipeline';
import { arg, flag } from './cli';
import { readModelDir } from './model_files';
import {
  plainStep,
  profiledStep,
  startRun,
  summariseStep,
  type PlainStep,
  type ProfileTarget,
  type StepSummary,
  type TimingSource,
} from './step_profiler';

Object.assign(globalThis, globals);

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);
const min = (xs: number[]) => Math.min(...xs);
const f = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '–');

async function main(): Promise<void> {
  const modelsDir = arg('--models', 'public/models');
  const index = JSON.parse(readFileSync(join(modelsDir, 'index.json'), 'utf8')) as {
    defaultGenerator: string;
    tokenizer: string;
  };
  const genId = arg('--generator', index.defaultGenerator);
  const vqId = arg('--vq', index.tokenizer);
  const steps = Number(arg('--steps', '12'));
  const warmup = Number(arg('--warmup', '1'));
  const guidance = Number(arg('--guidance', '4'));
  const scan = arg('--scan', 'fused');
  const jsonOut = arg('--json', '');
  if (scan !== 'fused' && scan !== 'chunked') throw new Error(`--scan must be fused or chunked, got ${scan}`);
  if (!(steps >= 1)) throw new Error(`--steps must be ≥ 1, got ${steps}`);

  // referenced for the process lifetime
  const dawn = create(['disable-dawn-features=timestamp_quantization']) as unknown as GPU;
  const ctx = await acquireDevice(dawn, { label: 'profile-step' });
  const source: TimingSource = ctx.hasTimestamps && !flag('--cpu-timing') ? 'gpu-timestamps' : 'cpu-submit';
  const adapter = describeAdapter(ctx.adapterInfo);
  const e = new Engine(ctx);
  let gpuErrors = 0; // a validation error means a dispatch did not run: its numbers would be meaningless
  ctx.device.addEventListener('uncapturederror', (ev) => {
    if (gpuErrors++ === 0) console.error('WebGPU error:', (ev as GPUUncapturedErrorEvent).error.message);
  });
  const pipe = TextToImage.create(e, readModelDir(join(modelsDir, genId)), readModelDir(join(modelsDir, vqId)));
  if (pipe.generator instanceof MMamba) pipe.generator.scanKernel = scan;
  const Lt = pipe.generator.config.text.max_len;
  const pad = (ids: ArrayLike<number>) => Int32Array.from({ length: Lt }, (_, i) => ids[i] ?? 0);
  const target: ProfileTarget = {
    generator: pipe.generator,
    decoder: pipe.decoder,
    ids: pad(pipe.tokenizer.encode('red apple')),
    uncondIds: pad(pipe.tokenizer.encode('')),
    guidance,
    steps,
    seed: 1,
  };
  const rows = guidance === 1 ? 1 : 2;
  console.log(`adapter: ${adapter}; features: ${ctx.features.join(', ')}`);
  console.log(
    `model ${genId} + ${vqId} from ${modelsDir}; one image, guidance ${guidance} (forward batch ${rows}), ${scan} scan; ` +
      `${warmup} warm-up step(s), then ${steps} plain and ${steps} profiled steps; timing source: ${source}`,
  );
  console.log('');

  // warm-up: compiles every pipeline of the step and the preview
  const warm = startRun(e, { ...target, steps: Math.max(1, warmup) });
  for (let i = 0; i < warmup; i++) await plainStep(e, warm, pipe.decoder);
  warm.dispose();

  const plain: PlainStep[] = [];
  const runA = startRun(e, target);
  for (let i = 0; i < steps; i++) plain.push(await plainStep(e, runA, pipe.decoder));
  runA.dispose();

  const profiled: StepSummary[] = [];
  let mismatch = 0;
  const runB = startRun(e, target);
  for (let i = 0; i < steps; i++) {
    const { records, engineDispatches } = await profiledStep(e, runB, pipe.decoder, source);
    if (engineDispatches !== records.length) mismatch++;
    profiled.push(summariseStep(records, source));
  }
  runB.dispose();

  const first = profiled[0]!;
  const familyNames = first.families.map((x) => x.family);
  const famMs = (name: string) => profiled.map((p) => p.families.find((x) => x.family === name)?.ms ?? 0);
  const busy = median(profiled.map((p) => p.busyMs));
  const timeLabel = source === 'gpu-timestamps' ? 'GPU timestamps' : 'CPU-side, one submission per dispatch';

  const summary = [
    `Per step (median of ${steps}; min in brackets):`,
    '',
    '| dispatches (step + preview) | record, CPU (ms) | wall to GPU idle, plain (ms) | readback (ms) | KiB read | busy, profiled (ms) | span, profiled (ms) | idle gaps (ms) | largest gap (ms, before) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${first.dispatches.step} + ${first.dispatches.preview} = ${first.dispatches.total} | ${f(median(plain.map((p) => p.recordMs)))} | ` +
      `${f(median(plain.map((p) => p.wallMs)))} (${f(min(plain.map((p) => p.wallMs)))}) | ${f(median(plain.map((p) => p.readbackMs)))} | ` +
      `${f(plain[0]!.readBytes / 1024, 1)} | ${f(busy)} (${f(min(profiled.map((p) => p.busyMs)))}) | ${f(median(profiled.map((p) => p.spanMs)))} | ` +
      `${f(median(profiled.map((p) => p.idleMs)))} | ${f(first.largestGap.ms, 3)} (${first.largestGap.before || '–'}) |`,
  ];
  const families = [
    `Per kernel family (${timeLabel}; median over the ${steps} profiled steps):`,
    '',
    '| family | dispatches / step | ms / step | share of busy | µs / dispatch | labels |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...[...first.families]
      .sort((a, b) => median(famMs(b.family)) - median(famMs(a.family)))
      .map((x) => {
        const ms = median(famMs(x.family));
        return `| ${x.family} | ${x.dispatches} | ${f(ms, 3)} | ${f((100 * ms) / busy, 1)} % | ${f((1000 * ms) / x.dispatches, 1)} | ${x.labels.join(', ')} |`;
      }),
  ];
  console.log(summary.join('\n'));
  console.log('');
  console.log(families.join('\n'));
  console.log('');
  console.log(
    `Notes: "plain" steps run as the app records them (one command buffer per step and preview); "profiled" steps run ` +
      (source === 'gpu-timestamps'
        ? 'one compute pass per dispatch with begin/end timestamps, so idle gaps include pass boundaries and the guided grid copies.'
        : 'each dispatch as its own submission, timed by its completion callback on the CPU: coarse (callbacks wait for recording to finish); no idle time is separated.') +
      ` Dispatch counts from the profiler and the engine's counter ${mismatch ? `DIFFER in ${mismatch} step(s)` : 'agree'}.`,
  );
  if (jsonOut) {
    const out = {
      adapter,
      features: ctx.features,
      source,
      modelsDir,
      generator: genId,
      vq: vqId,
      guidance,
      forwardBatch: rows,
      scan,
      steps,
      warmup,
      dispatches: first.dispatches,
      countMismatchSteps: mismatch,
      plain,
      profiled: profiled.map(({ families: fs, ...rest }) => ({
        ...rest,
        families: fs.map(({ labels: _l, ...x }) => x),
      })),
      median: {
        recordMs: median(plain.map((p) => p.recordMs)),
        wallMs: median(plain.map((p) => p.wallMs)),
        readbackMs: median(plain.map((p) => p.readbackMs)),
        busyMs: busy,
        spanMs: median(profiled.map((p) => p.spanMs)),
        idleMs: median(profiled.map((p) => p.idleMs)),
        families: Object.fromEntries(familyNames.map((n) => [n, median(famMs(n))])),
      },
      familyLabels: Object.fromEntries(first.families.map((x) => [x.family, x.labels])),
    };
    writeFileSync(jsonOut, JSON.stringify(out, null, 1));
    console.log(`wrote ${jsonOut}`);
  }
  if (gpuErrors) console.error(`${gpuErrors} WebGPU error(s): the numbers above are not valid`);
  pipe.dispose();
  e.dispose();
  process.exit(mismatch || gpuErrors ? 2 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
