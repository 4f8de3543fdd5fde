// The teach-a-word benchmark (issue 20, item 5): the whole flow as the page runs it (src/worker/finetune/session.ts:
// drift guard, textual inversion and prior preservation when asked, LoRA), in Node on Dawn with WebGPU's default
// limits, on a shipped model (public/models: generator + its VQ) or the e2e tiny models (--tiny, a smoke test).
// The pictures are drawn here (bench/teach_word_lib.ts; no image decoder in Node): 8 pictures of one new thing
// (--thing robot | octopus | house) in an art style (--style flat | outline), at the VQ's resolution, VQ-encoded on
// the GPU, captioned with the new word in several forms ("a zorblat", "zorblat, flat emoji", …). It reports:
//   - time: the run from the first base control render to the adapter (wall clock), and its steps;
//   - the word: "a <word>" at 4 seeds, each image's 32-px PSNR to the nearest picture, mean, base vs adapter;
//   - drift: the drift guard's final report on the 8 control prompts (32-px PSNR to the base, colour shares, tokens).
// Prints a Markdown table and one JSON line (prefix "JSON "). Usage:
//   node bench/build.mjs .gpu/teach_word.mjs bench/teach_word.ts && node .gpu/teach_word.mjs
//     [--models public/models] [--gen ID (default: index.json defaultGenerator)] [--vq vq-s] [--tiny] [--thing robot]
//     [--style flat] [--word zorblat]
//     [--steps N] [--inversion-steps N] [--prior F] [--lr X] [--rank R] [--batch B] [--render-steps S] [--seed N]
// Steps, lr, rank, batch and recipe default to the page's (FINETUNE_SETTINGS, src/finetune/defaults.ts).
// bench/teach_recipes.ts compares recipes across things and styles in one process.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { create, globals } from 'webgpu';
import { acquireDevice, describeAdapter } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import { CONTROLS } from '../src/worker/finetune/drift_guard';
import { FINETUNE_SETTINGS as FT } from '../src/worker/finetune/settings';
import { arg, flag } from './cli';
import { readModelDir } from './model_files';
import { TeachBench } from './teach_word_lib';

Object.assign(globalThis, globals);

async function main(): Promise<void> {
  const tiny = flag('--tiny');
  const models = arg('--models', 'public/models');
  const index = tiny
    ? {}
    : (JSON.parse(readFileSync(join(models, 'index.json'), 'utf8')) as {
        defaultGenerator?: string;
        tokenizer?: string;
      });
  const genDir = tiny
    ? 'e2e/fixtures/models/mmamba-e2e'
    : join(models, arg('--gen', index.defaultGenerator ?? 'mmamba-v2'));
  const vqDir = tiny ? 'e2e/fixtures/models/vq-e2e' : join(models, arg('--vq', index.tokenizer ?? 'vq-s'));
  const thing = arg('--thing', 'robot');
  const style = arg('--style', 'flat');
  const word = arg('--word', 'zorblat');
  const renderSteps = Number(arg('--render-steps', String(FT.previewSteps.default)));
  const req = {
    rank: Number(arg('--rank', String(FT.rank.default))),
    steps: Number(arg('--steps', String(FT.steps.default))),
    lr: Number(arg('--lr', String(FT.lr.default))),
    batchSize: Number(arg('--batch', String(FT.batchSize.default))),
    seed: Number(arg('--seed', String(FT.seed.default))),
    inversionSteps: Number(arg('--inversion-steps', String(FT.inversionSteps.default))),
    priorFraction: Number(arg('--prior', String(FT.priorFraction.default))),
  };

  const gen = readModelDir(resolve(genDir));
  const vq = readModelDir(resolve(vqDir));
  const dawn = create([]) as unknown as GPU; // stays referenced for the process lifetime
  const ctx = await acquireDevice(dawn, { label: 'teach-word-bench', defaultLimitsOnly: true });
  const e = new Engine(ctx);
  const bench = new TeachBench(e, gen, vq);
  console.log(
    `adapter: ${describeAdapter(ctx.adapterInfo)}; model ${gen.manifest.modelId} + ${vq.manifest.modelId}; thing ${thing} (${style}), word "${word}"`,
  );
  const pictures = bench.pictures(thing, style);
  const dataset = await bench.dataset(pictures, word);
  const before = await bench.wordSimilarity(null, word, pictures, renderSteps);
  const result = await bench.run(dataset, word, { ...req, renderSteps });
  const res = { status: result.status, steps: result.steps, losses: result.losses };
  const ms = result.runMs;
  const after = await bench.wordSimilarity(result.adapter, word, pictures, renderSteps);
  const d = result.drift;

  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '∞');
  console.log('');
  console.log(
    '| model | thing | recipe (word steps + LoRA steps, prior share, rank, lr) | run s | word 32-px PSNR base → adapter (dB) | controls: worst 32-px PSNR (dB) | worst colour-share change | worst tokens changed | within bounds |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  console.log(
    `| ${gen.manifest.modelId} | ${thing} (${style}) | ${req.inversionSteps} + ${req.steps}, ${req.priorFraction}, ${req.rank}, ${req.lr} | ${(ms / 1000).toFixed(1)} | ` +
      `${before.mean.toFixed(1)} → ${after.mean.toFixed(1)} (${after.mean - before.mean >= 0 ? '+' : ''}${(after.mean - before.mean).toFixed(1)}) | ` +
      `${f(d.worst.psnr32)} | ${d.worst.colourShareDiff.toFixed(3)} | ${(d.worst.tokenChange * 100).toFixed(0)} % | ${d.withinBounds ? 'yes' : 'no'} |`,
  );
  console.log('');
  console.log('| control | 32-px PSNR to base (dB) | colour-share change | tokens changed |');
  console.log('| --- | --- | --- | --- |');
  d.prompts.forEach((p, i) => {
    console.log(
      `| ${CONTROLS[i]!.prompt} | ${f(p.psnr32)} | ${p.colourShareDiff.toFixed(3)} | ${(p.tokenChange * 100).toFixed(0)} % |`,
    );
  });
  const json = {
    model: gen.manifest.modelId,
    vq: vq.manifest.modelId,
    thing,
    style,
    word,
    request: req,
    status: res.status,
    runMs: Math.round(ms),
    steps: res.steps,
    lossFirst: res.losses[0],
    lossLast: res.losses.at(-1),
    wordPsnr32: {
      base: { perSeed: before.perSeed, mean: before.mean },
      adapter: { perSeed: after.perSeed, mean: after.mean },
    },
    drift: {
      ...d,
      prompts: d.prompts.map((p) => ({ ...p, psnr32: Number.isFinite(p.psnr32) ? p.psnr32 : null })),
      worst: { ...d.worst, psnr32: Number.isFinite(d.worst.psnr32) ? d.worst.psnr32 : null },
    },
  };
  console.log(`JSON ${JSON.stringify(json)}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
