// LoRA fine-tuning benchmark in Node on Dawn: loads a shipped generator from public/models (the same manifest and
// shards the page downloads), builds a FineTuner (src/finetune/trainer.ts) on a device with WebGPU's DEFAULT limits
// (maxStorageBufferBindingSize 128 MiB, maxBufferSize 256 MiB; --raised-limits lifts them to the adapter's), and
// times optimizer steps on a fixed random batch (VQ codes uniform in the codebook, captions through the model's
// BPE tokenizer). A step = masking + W+sBA + forward (layer checkpoints) + loss + backward (per-layer recompute) +
// LoRA grads + global norm + AdamW + one readback of loss/norms, measured wall-clock from call to resolved promise.
// Memory: the engine's buffer pool counts the bytes of every live storage buffer (its size classes, i.e.
// what was really allocated); "peak live" is its maximum from just before the FineTuner is built to the end of the
// last step, minus nothing (it includes the base weights the trainer uploads). Uniform and readback staging
// buffers (a few kB) are not counted; "pool total" adds the freed buffers the pool keeps for reuse.
// --dry records every step exactly as a real one (same tensors from the same pool in the same order, the same
// pipelines and bind groups, so binding sizes are validated) but launches no workgroups: memory and the dispatch
// count are those of a real step (the pool's accounting depends only on the sequence of allocations, and no
// allocation depends on a value read back: every gradient reads 0, so the update is applied as a real step's is),
// in seconds instead of tens of minutes on SwiftShader; times, loss and norms are meaningless.
// Usage: node bench/build.mjs .gpu/finetune.mjs bench/finetune.ts && node .gpu/finetune.mjs
//   [--models DIR] [--model mmamba-s] [--tiny] [--batch 8] [--steps 5] [--warmup 1] [--rank 8] [--alpha 8]
//   [--targets in_proj,out_proj,mod,text,text_layers,head] [--micro N] [--raised-limits] [--dry]
// The batch, rank, alpha, targets and optimizer settings default to the page's and the library's
// (src/finetune/defaults.ts); only the schedule differs (no warmup, so every timed step runs at the peak lr).
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { acquireDevice, describeAdapter } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';
import type { MMambaConfig } from '../src/model/common';
import { mulberry32 } from '../src/engine/rng';
import { arg, flag } from './cli';
import { readModelDir } from './model_files';
import type { LoraTarget } from '../src/finetune/api';
import { DEFAULT_FINETUNE_OPTIONS, DEFAULT_LORA_CONFIG } from '../src/finetune/defaults';
import { planMemory } from '../src/finetune/memory';
import { FineTuner } from '../src/finetune/trainer';

Object.assign(globalThis, globals);

const MiB = (b: number) => (b / 2 ** 20).toFixed(1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Deterministic uniform integers in [0, max). */
function ints(n: number, seed: number, max: number): Int32Array {
  const rand = mulberry32(seed);
  return Int32Array.from({ length: n }, () => Math.floor(rand() * max));
}

const CAPTIONS = [
  'a zorblax, flat emoji',
  'zorblax on a blue background',
  'red zorblax, outline icon',
  'small zorblax in the center',
];

async function main(): Promise<void> {
  const tiny = flag('--tiny');
  const dir = tiny ? 'tests/fixtures/mmamba_tiny' : join(arg('--models', 'public/models'), arg('--model', 'mmamba-s'));
  const B = Number(arg('--batch', String(DEFAULT_FINETUNE_OPTIONS.batchSize)));
  const steps = Number(arg('--steps', '5'));
  const warmup = Number(arg('--warmup', '1'));
  const rank = Number(arg('--rank', String(DEFAULT_LORA_CONFIG.rank)));
  const alpha = Number(arg('--alpha', String((DEFAULT_LORA_CONFIG.alpha / DEFAULT_LORA_CONFIG.rank) * rank)));
  const targets = arg('--targets', DEFAULT_LORA_CONFIG.targets.join(',')).split(',') as LoraTarget[];
  const micro = process.argv.includes('--micro') ? Number(arg('--micro', '0')) : undefined;

  const { manifest, weights } = readModelDir(dir);
  const cfg = manifest.config as unknown as MMambaConfig;
  if (manifest.kind !== 'mmamba') throw new Error(`${manifest.modelId} is not an M-Mamba model`);
  const HW = cfg.grid * cfg.grid;
  const Lt = cfg.text.max_len;
  const textIds = new Int32Array(B * Lt);
  if (manifest.tokenizer) {
    const tok = new BPETokenizer(manifest.tokenizer as unknown as TokenizerSpec, Lt);
    for (let b = 0; b < B; b++) textIds.set(tok.encode(CAPTIONS[b % CAPTIONS.length]!), b * Lt);
  } else textIds.set(ints(B * Lt, 2, Math.min(cfg.text.vocab_size, 64)));
  const batch = { tokens: ints(B * HW, 1, cfg.codebook_size), textIds };

  const dawn = create([]) as unknown as GPU; // stays referenced for the process lifetime
  const ctx = await acquireDevice(dawn, { label: 'finetune-bench', defaultLimitsOnly: !flag('--raised-limits') });
  const e = new Engine(ctx);
  const dry = flag('--dry');
  if (dry) {
    const record = e.dispatch.bind(e);
    e.dispatch = (spec) => {
      const [x, y = 1, z = 1] = spec.workgroups;
      record({ ...spec, workgroups: [0] }); // pipeline and bind group made, nothing launched
      if (x * y * z > 0) e.dispatchCount++;
    };
  }
  const lim = ctx.device.limits;
  console.log(
    `adapter: ${describeAdapter(ctx.adapterInfo)}; maxStorageBufferBindingSize ${MiB(lim.maxStorageBufferBindingSize)} MiB, maxBufferSize ${MiB(lim.maxBufferSize)} MiB`,
  );
  const lora = { rank, alpha, targets };
  const plan = planMemory(cfg, lora, B);
  let largestBuffer = 0; // the largest tensor (bytes asked of the pool, so the largest binding), from here on
  const acquire = e.pool.acquire.bind(e.pool);
  e.pool.acquire = (bytes, label) => {
    largestBuffer = Math.max(largestBuffer, bytes);
    return acquire(bytes, label);
  };

  e.pool.peakLiveBytes = e.pool.liveBytes;
  const t0 = performance.now();
  const ft = new FineTuner(e, { ref: { modelId: manifest.modelId, config: cfg }, weights }, lora, {
    ...DEFAULT_FINETUNE_OPTIONS,
    batchSize: B,
    warmupSteps: 0,
    totalSteps: warmup + steps,
    maxMicroBatch: micro,
  });
  await e.sync();
  const residentBytes = e.pool.liveBytes;
  const tBuild = performance.now() - t0;
  const losses: number[] = [];
  const times: number[] = [];
  let dispatches = 0;
  for (let i = 0; i < warmup + steps; i++) {
    const s0 = performance.now();
    const d0 = e.dispatchCount;
    const r = await ft.step(batch);
    dispatches = e.dispatchCount - d0;
    const ms = performance.now() - s0;
    losses.push(r.loss);
    if (i >= warmup) times.push(ms);
    console.error(
      `step ${r.step}: ${ms.toFixed(1)} ms, loss ${r.loss.toFixed(4)}, |g| ${r.gradNorm.toExponential(2)}, lr ${r.lr.toExponential(2)}${r.applied ? '' : ` REFUSED (${r.nonFinite})`}`,
    );
  }
  const peak = e.pool.peakLiveBytes;
  const pooled = e.pool.liveBytes + e.pool.pooledBytes;
  const med = median(times);
  console.log('');
  console.log(
    '| model | batch | micro-batch | LoRA (rank, targets) | timed steps | median ms/step | min ms/step | images/s | peak live GPU MiB | resident after build MiB | pool total MiB | largest binding MiB (plan) | loss first → last |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  console.log(
    `| ${manifest.modelId} | ${B} | ${ft.microBatch} | ${rank}, ${targets.join('+')} | ${times.length} | ${med.toFixed(1)} | ${Math.min(...times).toFixed(1)} | ` +
      `${((B * 1000) / med).toFixed(1)} | ${MiB(peak)} | ${MiB(residentBytes)} | ${MiB(pooled)} | ${MiB(plan.largestBindingBytes)} | ${losses[0]!.toFixed(3)} → ${losses[losses.length - 1]!.toFixed(3)} |`,
  );
  console.log(
    `(${dry ? 'DRY RUN (--dry: no workgroups launched; times, loss and norms meaningless); ' : ''}FineTuner built and base weights uploaded in ${tBuild.toFixed(0)} ms; ${warmup} untimed warm-up step(s) compile the pipelines; ${dispatches} dispatches per step; largest tensor ${MiB(largestBuffer)} MiB; plan's peak ${MiB(plan.estimatedPeakBytes)} MiB)`,
  );
  console.log(
    JSON.stringify({
      model: manifest.modelId,
      batch: B,
      microBatch: ft.microBatch,
      dry,
      peakLiveBytes: peak,
      residentBytes,
      poolTotalBytes: pooled,
      largestBufferBytes: largestBuffer,
      planLargestBindingBytes: plan.largestBindingBytes,
      planPeakBytes: plan.estimatedPeakBytes,
      dispatchesPerStep: dispatches,
    }),
  );
  ft.dispose();
  e.dispose();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
