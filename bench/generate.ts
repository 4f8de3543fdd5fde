// End-to-end generation benchmark in Node on Dawn: loads the shipped models from public/models (the same
// manifests and shards the page downloads), then times 12-step guided generation (text encode, 12 × batch-2
// forwards, 12 VQ decodes with pixel readback) for each generator, and writes the final images as PPM.
// Usage: node .gpu/generate.mjs [--models DIR] [--out DIR] [--steps S] [--runs R] [--prompt TEXT]
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { acquireDevice, describeAdapter } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import { TextToImage, type LoadedModel } from '../src/model/pipeline';
import { loadWeights, type Manifest } from '../src/model/weights';

Object.assign(globalThis, globals);

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

function loadModel(dir: string): LoadedModel {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const shards = manifest.shards.map((s) => {
    const b = readFileSync(join(dir, s.file));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  });
  return { manifest, weights: loadWeights(manifest, shards) };
}

function writePPM(path: string, rgba: Uint8ClampedArray, side: number): void {
  const rgb = Buffer.alloc(side * side * 3);
  for (let i = 0; i < side * side; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = rgba[i * 4 + c]!;
  writeFileSync(path, Buffer.concat([Buffer.from(`P6\n${side} ${side}\n255\n`), rgb]));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const modelsDir = arg('--models', 'public/models');
  const outDir = arg('--out', '');
  const steps = Number(arg('--steps', '12'));
  const runs = Number(arg('--runs', '5'));
  const prompts = arg('--prompt', 'red apple|yellow star, outline icon, center, blue background').split('|');
  const dawn = create([]) as unknown as GPU; // stays referenced for the process lifetime (Dawn crashes otherwise)
  const ctx = await acquireDevice(dawn, { label: 'generate-bench' });
  console.log(`adapter: ${describeAdapter(ctx.adapterInfo)}; features: ${ctx.features.join(', ')}`);
  const e = new Engine(ctx);
  const vq = loadModel(join(modelsDir, 'vq-s'));
  if (outDir) mkdirSync(outDir, { recursive: true });
  console.log(`| generator | steps | guidance | first run (ms, incl. pipeline compile) | median of ${runs} (ms) | per step (ms) | sample part (ms/step) | decode part (ms/step) |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const id of ['mmamba-s', 'uvit-s']) {
    const t0 = performance.now();
    const pipe = TextToImage.create(e, loadModel(join(modelsDir, id)), vq);
    const tLoad = performance.now() - t0;
    const totals: number[] = [];
    let first = 0;
    let sample: number[] = [];
    let decode: number[] = [];
    for (let r = 0; r <= runs; r++) {
      const prompt = prompts[r % prompts.length]!;
      const res = await pipe.generate({ prompt, seed: r, steps, guidance: 4 });
      if (r === 0) first = res.timings.totalMs;
      else {
        totals.push(res.timings.totalMs);
        sample = sample.concat(res.timings.sampleMs);
        decode = decode.concat(res.timings.decodeMs);
      }
      if (outDir && r <= prompts.length) writePPM(join(outDir, `${id}-${r}.ppm`), res.pixels, 128);
    }
    const med = median(totals);
    console.log(
      `| ${id} | ${steps} | 4 | ${first.toFixed(1)} | ${med.toFixed(1)} | ${(med / steps).toFixed(2)} | ${median(sample).toFixed(2)} | ${median(decode).toFixed(2)} |`,
    );
    console.log(`  (${id}: weights uploaded in ${tLoad.toFixed(0)} ms)`);
    pipe.dispose();
  }
  e.dispose();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
