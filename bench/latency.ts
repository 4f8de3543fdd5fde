// Latency benchmark of issue 18 for one device run: every comparison interleaved in ONE process (A B C A B C …,
// the order rotated each round), median and min over the runs, so that machine-start drift cannot decide it.
//   1. fusions A/B on the default generator, one image guided (batch-2 forwards): every variant of FUSIONS
//      (all on, all off, each fusion off alone; src/model/fusions.ts) runs whole S-step generations as the app
//      records them (step + preview, the preview read back every step): dispatches per step, ms per step and per
//      generation; then one timestamp-profiled step per variant (kernel families, bench/step_profiler.ts).
//   2. end to end, the generators of --compare (default mmamba-v2, uvit-s, mmamba-s; those present), S-step guided
//      generations through TextToImage.generate with every step's preview read back (previewEveryMs 0; part 6 has
//      the app's pacing), interleaved: median and min, and each one's ratio to UViT.
//   3. batched generation: the default generator, --batches rows per run (one seed, guided: 2B-row forwards), S
//      steps with no per-step preview (each submitted as it is recorded), then one decode of all B images read back:
//      images per second.
//   4. CPU per step (bench/latency_cpu.ts): the default generator's generations with lookahead 0 / 1 / 2
//      interleaved; per step: recording the forward, sampling and preview, submitting, waiting, reporting.
//   5. one timestamp-profiled guided step at batch 1 and --profile-batch (default 8), with its preview
//      (bench/latency_cpu.ts): families and the largest dispatch labels.
//   6. preview pacing: the default generator's S-step guided generations through TextToImage.generate with every
//      step's preview decoded (previewEveryMs 0) and paced to the display (the app's default,
//      DEFAULT_PREVIEW_EVERY_MS), interleaved: median and min, previews decoded per generation, and whether the
//      two give the same final image (same seed each round).
// Usage: node .gpu/latency.mjs [--models DIR] [--default ID] [--compare A,B] [--vq ID] [--tokenizer FILE]
//        [--steps S] [--runs R] [--batch-runs R] [--batches 1,4,8,32] [--budget SECONDS] [--json FILE]
//        [--parts fusions,models,batches,cpu,profile-batch,pacing] [--profile-batch B]
//   FUSIONS (env): variants of part 1, comma-separated: 'default' (the models' set), 'all', 'none', '-NAME' (all but NAME), '+NAME' (only NAME),
//                  'default+NAME' / 'default-NAME' (the models' set with NAME on / off)
//                  (default: default, all, none, -NAME for every name of src/model/fusions.ts FUSION_NAMES, then
//                  default+vqSmallTiles, default+chunkedScan)
//   --budget: parts 1-4 and 6 share it (35 %, 20 %, 20 %, 15 %, 10 %); a part stops after the last whole round that fits, with at
//             least 2 rounds, and says how many it ran. Tiny CPU check (SwiftShader; TINY=1 bash training/gpu/latency.sh):
//   --models tests/fixtures --default mmamba_ffn_tiny --compare mmamba_ffn_tiny,uvit_tiny,mmamba_tiny --vq vq_tiny
//   --tokenizer tests/fixtures/pipeline_cases.json --steps 2 --runs 2 --batches 1,2
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { acquireDevice, describeAdapter } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import type { TokenizerSpec } from '../src/model/bpe';
import { FUSION_NAMES, type Fusions } from '../src/model/fusions';
import { MMamba } from '../src/model/mmamba';
import { DEFAULT_PREVIEW_EVERY_MS, TextToImage } from '../src/model/pipeline';
import { MaskGitRun } from '../src/model/sampler';
import { UViT } from '../src/model/uvit';
import { arg } from './cli';
import { batchedStepProfile, cpuPerStep } from './latency_cpu';
import { parseVariants, rotate, stats } from './latency_plan';
import { readModelDir } from './model_files';
import { PREVIEW_FAMILY, plainStep, profiledStep, startRun, summariseStep, type ProfileTarget } from './step_profiler';

Object.assign(globalThis, globals);

const f = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const now = () => performance.now();
const PROMPT = 'red apple';

function setFusions(pipe: TextToImage, fu: Fusions): void {
  const g = pipe.generator;
  if (g instanceof MMamba || g instanceof UViT) g.fusions = { ...fu };
  pipe.decoder.fusions = { ...fu };
}

async function main(): Promise<void> {
  const t0 = now();
  const modelsDir = arg('--models', 'public/models');
  const indexPath = join(modelsDir, 'index.json');
  const index = existsSync(indexPath)
    ? (JSON.parse(readFileSync(indexPath, 'utf8')) as { defaultGenerator?: string; tokenizer?: string })
    : {};
  const defId = arg('--default', index.defaultGenerator ?? 'mmamba-v2');
  const vqId = arg('--vq', index.tokenizer ?? 'vq-s');
  const compare = arg('--compare', 'mmamba-v2,uvit-s,mmamba-s')
    .split(',')
    .filter((id) => existsSync(join(modelsDir, id, 'manifest.json')));
  const steps = Number(arg('--steps', '12'));
  const runs = Number(arg('--runs', '20'));
  const batchRuns = Number(arg('--batch-runs', String(Math.max(2, Math.ceil(runs / 2)))));
  const batches = arg('--batches', '1,4,8,32').split(',').map(Number);
  const budgetS = Number(arg('--budget', '240'));
  const parts = new Set(arg('--parts', 'fusions,models,batches,cpu,profile-batch,pacing').split(','));
  const profileBatch = Number(arg('--profile-batch', '8'));
  const jsonOut = arg('--json', '');
  const tokFile = arg('--tokenizer', '');
  const variants = parseVariants(
    process.env.FUSIONS ??
      `default,all,none,${FUSION_NAMES.map((n) => `-${n}`).join(',')},default+vqSmallTiles,default+chunkedScan`,
  );
  if (!(steps >= 1 && runs >= 2 && batchRuns >= 1)) throw new Error('--steps ≥ 1, --runs ≥ 2, --batch-runs ≥ 1');
  if (batches.some((b) => !(Number.isInteger(b) && b >= 1))) throw new Error(`--batches: positive integers`);
  if (!(Number.isInteger(profileBatch) && profileBatch >= 1)) throw new Error('--profile-batch: a positive integer');
  const tokenizer = tokFile
    ? (JSON.parse(readFileSync(tokFile, 'utf8')) as { tokenizer: TokenizerSpec }).tokenizer
    : undefined;

  const dawn = create(['disable-dawn-features=timestamp_quantization']) as unknown as GPU; // held for the process
  const ctx = await acquireDevice(dawn, { label: 'latency-bench' });
  const e = new Engine(ctx);
  let gpuErrors = 0; // a validation error means a dispatch did not run: the numbers would be meaningless
  ctx.device.addEventListener('uncapturederror', (ev) => {
    if (gpuErrors++ === 0) console.error('WebGPU error:', (ev as GPUUncapturedErrorEvent).error.message);
  });
  const vq = readModelDir(join(modelsDir, vqId));
  const load = (id: string) => TextToImage.create(e, readModelDir(join(modelsDir, id)), vq, tokenizer);
  const out: Record<string, unknown> = {
    adapter: describeAdapter(ctx.adapterInfo),
    features: ctx.features,
    modelsDir,
    default: defId,
    steps,
    guidance: 4,
  };
  const md: string[] = [
    `adapter: ${out.adapter}; features: ${ctx.features.join(', ')}`,
    `models from ${modelsDir}: default ${defId}, compared ${compare.join(', ')}; ${steps} steps, guidance 4; ` +
      `budget ${budgetS} s; the order of the variants rotates every round`,
    '',
  ];
  const print = (lines: string[]) => {
    console.log(lines.join('\n'));
    md.push(...lines);
  };
  const deadline = (share: number, from: number) => from + share * budgetS * 1000;

  // ---- 1. fusions A/B ------------------------------------------------------------------------------------------
  if (parts.has('fusions')) {
    const start = now();
    const end = deadline(0.35, start);
    const pipe = load(defId);
    const Lt = pipe.generator.config.text.max_len;
    const pad = (ids: ArrayLike<number>) => Int32Array.from({ length: Lt }, (_, i) => ids[i] ?? 0);
    const target: ProfileTarget = {
      generator: pipe.generator,
      decoder: pipe.decoder,
      ids: pad(pipe.tokenizer.encode(PROMPT)),
      uncondIds: pad(pipe.tokenizer.encode('')),
      guidance: 4,
      steps,
      seed: 1,
    };
    const perStep = variants.map(() => [] as number[]);
    const perGen = variants.map(() => [] as number[]);
    const dispatches = variants.map(() => 0);
    const grids: Array<Uint32Array | null> = variants.map(() => null);
    const generation = async (v: number) => {
      setFusions(pipe, variants[v]!.fusions);
      const run = startRun(e, target);
      const ms: number[] = [];
      let d = 0;
      for (let i = 0; i < steps; i++) {
        const p = await plainStep(e, run, pipe.decoder);
        ms.push(p.wallMs + p.readbackMs);
        d = p.dispatches;
      }
      grids[v] = (await e.read(run.tokens)) as Uint32Array;
      run.dispose();
      return { ms, dispatches: d };
    };
    for (let v = 0; v < variants.length; v++) await generation(v); // warm-up: compiles every variant's pipelines
    let rounds = 0;
    while (rounds < runs && (rounds < 2 || now() < end)) {
      for (const v of rotate(variants.length, rounds)) {
        const g = await generation(v);
        perStep[v]!.push(stats(g.ms).median);
        perGen[v]!.push(g.ms.reduce((a, b) => a + b, 0));
        dispatches[v] = g.dispatches;
      }
      rounds++;
    }
    const ref = variants.findIndex((v) => v.name === 'none');
    const same = (v: number) => {
      const a = grids[v];
      const b = ref >= 0 ? grids[ref] : null;
      if (!a || !b) return '–';
      let n = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
      return n === 0 ? 'same' : `${n} differ`;
    };
    const gen = perGen.map(stats);
    const stp = perStep.map(stats);
    print([
      `## 1. Fusions A/B: ${defId}, one image guided (batch-2 forwards), ${rounds} interleaved rounds`,
      '',
      'Per variant: dispatches of one step (forward + sampling + preview); ms per step = wall from recording to the ' +
        "preview read back (median of the run's steps), then median and min over the runs; final grid vs 'none'.",
      '',
      '| variant | dispatches / step | ms / step, median | min | generation ms, median | min | final grid |',
      '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
      ...variants.map(
        (v, i) =>
          `| ${v.name} | ${dispatches[i]} | ${f(stp[i]!.median)} | ${f(stp[i]!.min)} | ${f(gen[i]!.median, 1)} | ${f(gen[i]!.min, 1)} | ${same(i)} |`,
      ),
      '',
    ]);
    // one timestamp-profiled step per variant (after the timed runs: the profiler splits every dispatch into its
    // own pass, so its busy time is the kernels' and its span overstates the plain step)
    const source = ctx.hasTimestamps ? 'gpu-timestamps' : 'cpu-submit';
    const profiles: Record<string, unknown> = {};
    const famRows: string[] = [];
    const vqRows: string[] = [];
    for (let v = 0; v < variants.length; v++) {
      setFusions(pipe, variants[v]!.fusions);
      const run = startRun(e, { ...target, steps: 2 });
      await plainStep(e, run, pipe.decoder);
      const { records } = await profiledStep(e, run, pipe.decoder, source);
      run.dispose();
      const s = summariseStep(records, source);
      profiles[variants[v]!.name] = s;
      famRows.push(
        `| ${variants[v]!.name} | ${s.dispatches.total} | ${f(s.busyMs, 3)} | ${f(s.spanMs, 3)} | ` +
          s.families.map((x) => `${x.family} ${x.dispatches}× ${f(x.ms, 3)}`).join('; ') +
          ' |',
      );
      const vq = s.families.find((x) => x.family === PREVIEW_FAMILY);
      vqRows.push(
        `| ${variants[v]!.name} | ${vq?.dispatches ?? 0} | ${f(vq?.ms ?? NaN, 3)} | ` +
          s.previewByLabel.map((x) => `${x.label} ${x.dispatches}× ${f(x.ms, 3)}`).join('; ') +
          ' |',
      );
    }
    print([
      `Profiled step (${source}; step 2 of a fresh run), per variant:`,
      '',
      '| variant | dispatches | busy (ms) | span (ms) | families: dispatches × ms |',
      '| --- | ---: | ---: | ---: | --- |',
      ...famRows,
      '',
      `VQ decode by kernel (${source}; the ${PREVIEW_FAMILY} family of the same steps, by dispatch label; conv labels ` +
        'end with the output channels × height × width):',
      '',
      '| variant | dispatches | ms | kernels: dispatches × ms, largest first |',
      '| --- | ---: | ---: | --- |',
      ...vqRows,
      '',
    ]);
    out.fusions = {
      rounds,
      variants: variants.map((v, i) => ({
        name: v.name,
        fusions: v.fusions,
        dispatches: dispatches[i],
        msPerStep: stp[i],
        msGeneration: gen[i],
        perStepRuns: perStep[i],
        generationRuns: perGen[i],
        finalGrid: same(i),
      })),
      profiles,
      seconds: (now() - start) / 1000,
    };
    pipe.dispose();
  }

  // ---- 2. generators end to end --------------------------------------------------------------------------------
  if (parts.has('models') && compare.length) {
    const start = now();
    const end = deadline(0.2, start);
    const pipes = compare.map(load);
    const totals = compare.map(() => [] as number[]);
    const request = (seed: number) => ({ prompt: PROMPT, seed, steps, guidance: 4, previewEveryMs: 0 });
    for (const p of pipes) await p.generate(request(0)); // warm-up
    let rounds = 0;
    while (rounds < runs && (rounds < 2 || now() < end)) {
      for (const i of rotate(compare.length, rounds)) {
        const res = await pipes[i]!.generate(request(rounds + 1));
        totals[i]!.push(res.timings.totalMs);
      }
      rounds++;
    }
    const st = totals.map(stats);
    const uvit = pipes.findIndex((p) => p.generator instanceof UViT);
    const ratio = (i: number) => (uvit >= 0 ? f(st[i]!.median / st[uvit]!.median) : '–');
    print([
      `## 2. End to end: ${steps}-step guided generation (TextToImage.generate, every step's preview read back), ${rounds} interleaved rounds`,
      '',
      '| generator | ms, median | min | per step, median | median / UViT median |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...compare.map(
        (id, i) =>
          `| ${id} | ${f(st[i]!.median, 1)} | ${f(st[i]!.min, 1)} | ${f(st[i]!.median / steps)} | ${ratio(i)} |`,
      ),
      '',
    ]);
    out.models = {
      rounds,
      generators: compare.map((id, i) => ({ id, ms: st[i], runs: totals[i] })),
      seconds: (now() - start) / 1000,
    };
    for (const p of pipes) p.dispose();
  }

  // ---- 3. batched generation -----------------------------------------------------------------------------------
  if (parts.has('batches')) {
    const start = now();
    const end = deadline(0.2, start);
    const pipe = load(defId);
    const Lt = pipe.generator.config.text.max_len;
    const row = (ids: ArrayLike<number>) => Array.from({ length: Lt }, (_, i) => ids[i] ?? 0);
    const [cond, uncond] = [row(pipe.tokenizer.encode(PROMPT)), row(pipe.tokenizer.encode(''))];
    const generateBatch = async (B: number, seed: number) => {
      const t = now();
      const run = new MaskGitRun(e, pipe.generator, {
        ids: Array.from({ length: B }, () => cond).flat(),
        uncondIds: Array.from({ length: B }, () => uncond).flat(),
        batch: B,
        steps,
        guidance: 4,
        tau: 1,
        temperature: 1,
        seed,
      });
      for (let i = 0; i < steps; i++) run.step();
      const packed = pipe.decoder.preview(run.tokens);
      await e.read(packed);
      packed.dispose();
      run.dispose();
      return now() - t;
    };
    const times = batches.map(() => [] as number[]);
    for (const B of batches) await generateBatch(B, 0); // warm-up
    let rounds = 0;
    while (rounds < batchRuns && (rounds < 2 || now() < end)) {
      for (const i of rotate(batches.length, rounds)) times[i]!.push(await generateBatch(batches[i]!, rounds + 1));
      rounds++;
    }
    const st = times.map(stats);
    print([
      `## 3. Batched generation: ${defId}, ${steps} guided steps (2B-row forwards), each submitted as recorded, then one ` +
        `decode of the B images read back; ${rounds} interleaved rounds`,
      '',
      '| batch B | ms, median | min | images/s (median) | images/s (best) |',
      '| ---: | ---: | ---: | ---: | ---: |',
      ...batches.map(
        (B, i) =>
          `| ${B} | ${f(st[i]!.median, 1)} | ${f(st[i]!.min, 1)} | ${f((1000 * B) / st[i]!.median, 1)} | ${f((1000 * B) / st[i]!.min, 1)} |`,
      ),
      '',
    ]);
    out.batches = {
      rounds,
      rows: batches.map((B, i) => ({ batch: B, ms: st[i], runs: times[i] })),
      seconds: (now() - start) / 1000,
    };
    pipe.dispose();
  }

  // ---- 4, 5. CPU per step; one step by batch (bench/latency_cpu.ts) ----------------------------------------------
  if (parts.has('cpu') || parts.has('profile-batch')) {
    const pipe = load(defId);
    const part = { e, pipe, id: defId, prompt: PROMPT, steps, runs, print };
    if (parts.has('cpu')) out.cpu = await cpuPerStep({ ...part, end: deadline(0.15, now()) });
    if (parts.has('profile-batch')) {
      const source = ctx.hasTimestamps ? 'gpu-timestamps' : 'cpu-submit';
      out.batchProfile = await batchedStepProfile({ ...part, end: now() }, [...new Set([1, profileBatch])], source);
    }
    pipe.dispose();
  }

  // ---- 6. preview pacing -----------------------------------------------------------------------------------------
  if (parts.has('pacing')) {
    const start = now();
    const end = deadline(0.1, start);
    const pipe = load(defId);
    const pacings = [
      { name: 'every preview', previewEveryMs: 0 },
      { name: `paced (${f(DEFAULT_PREVIEW_EVERY_MS, 1)} ms)`, previewEveryMs: DEFAULT_PREVIEW_EVERY_MS },
    ];
    const totals = pacings.map(() => [] as number[]);
    const previews = pacings.map(() => [] as number[]);
    let differ = 0; // rounds whose two final images (same seed) differ: must stay 0
    const generation = async (v: number, seed: number) => {
      let decoded = 0;
      const res = await pipe.generate(
        { prompt: PROMPT, seed, steps, guidance: 4, previewEveryMs: pacings[v]!.previewEveryMs },
        (s) => {
          if (s.pixels) decoded++;
        },
      );
      return { res, decoded };
    };
    for (let v = 0; v < pacings.length; v++) await generation(v, 0); // warm-up
    let rounds = 0;
    while (rounds < runs && (rounds < 2 || now() < end)) {
      const finals: Array<{ tokens: Uint32Array; pixels: Uint8ClampedArray }> = [];
      for (const v of rotate(pacings.length, rounds)) {
        const g = await generation(v, rounds + 1);
        totals[v]!.push(g.res.timings.totalMs);
        previews[v]!.push(g.decoded);
        finals.push(g.res);
      }
      const [a, b] = finals;
      if (a!.tokens.some((t, i) => t !== b!.tokens[i]) || a!.pixels.some((x, i) => x !== b!.pixels[i])) differ++;
      rounds++;
    }
    const st = totals.map(stats);
    const pv = previews.map(stats);
    print([
      `## 6. Preview pacing: ${defId}, ${steps}-step guided generation (TextToImage.generate), every step's preview ` +
        `decoded vs paced to the display, ${rounds} interleaved rounds`,
      '',
      `Paced: a step's preview is decoded and read back only when ${f(DEFAULT_PREVIEW_EVERY_MS, 1)} ms have passed ` +
        "since the last decoded one was submitted (the first and final steps' always are); the other steps read back their grid " +
        `alone. Final image (tokens and pixels, same seed): ${differ === 0 ? 'the same in every round' : `**differs in ${differ} rounds**`}.`,
      '',
      '| previews | ms, median | min | per step, median | previews decoded / generation, median | min |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...pacings.map(
        (p, i) =>
          `| ${p.name} | ${f(st[i]!.median, 1)} | ${f(st[i]!.min, 1)} | ${f(st[i]!.median / steps)} | ${f(pv[i]!.median, 1)} | ${pv[i]!.min} |`,
      ),
      '',
    ]);
    out.pacing = {
      rounds,
      finalsDiffer: differ,
      variants: pacings.map((p, i) => ({ ...p, ms: st[i], runs: totals[i], previews: previews[i] })),
      seconds: (now() - start) / 1000,
    };
    pipe.dispose();
  }

  out.gpuErrors = gpuErrors;
  out.seconds = (now() - t0) / 1000;
  print([`${gpuErrors} WebGPU errors; ${f((now() - t0) / 1000, 1)} s in all.`]);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(out, null, 1));
  e.dispose();
  process.exit(gpuErrors ? 2 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
