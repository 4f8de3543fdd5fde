// Browser-engine images for the evaluation suite's parity check (docs/evaluation.md): runs the TypeScript
// text-to-image pipeline (the page's engine, WGSL kernels through Dawn in Node) on a prompts file written by
// `training/evaluate.py --write-prompts` and writes the final images for `evaluate.py --external`.
// Conventions shared with the PyTorch side (mmamba/seeded_sampling.py): one image per request (batch 1, the
// page's path), the item's seed, guidance against the empty prompt, the same steps / guidance / tau / token temperature.
// Output per model id: <out>/<id>.u8 = N·128·128·3 bytes of RGB (items in file order, alpha dropped) and
// <out>/<id>.json = {model, count, size, steps, guidance, tau, temperature, msPerImage, items}.
// Usage: node .gpu/generate_eval.mjs --prompts P.json --out DIR [--models public/models] [--model mmamba-s,uvit-s]
//        [--vq vq-s] [--steps 12] [--guidance 4] [--tau 4.5] [--temperature 1] [--limit N]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { acquireDevice, describeAdapter } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import { TextToImage } from '../src/model/pipeline';
import { arg } from './cli';
import { readModelDir as loadModel } from './model_files';

Object.assign(globalThis, globals);

interface EvalItem {
  prompt: string;
  seed: number;
}

/** Items from evaluate.py --write-prompts: a JSON list (or {items: [...]}) of {prompt, seed, ...}. */
function readItems(path: string): EvalItem[] {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as EvalItem[] | { items: EvalItem[] };
  const items = Array.isArray(raw) ? raw : raw.items;
  for (const [i, it] of items.entries())
    if (typeof it.prompt !== 'string' || !Number.isSafeInteger(it.seed) || it.seed < 0)
      throw new Error(`${path}: item ${i} needs a string prompt and a non-negative integer seed`);
  return items;
}

/** RGBA (side² · 4) → RGB bytes appended at `offset` of `dst`. */
function copyRGB(dst: Uint8Array, offset: number, rgba: Uint8ClampedArray, side: number): void {
  for (let i = 0; i < side * side; i++) for (let c = 0; c < 3; c++) dst[offset + i * 3 + c] = rgba[i * 4 + c]!;
}

async function main(): Promise<void> {
  const promptsPath = arg('--prompts', '');
  const outDir = arg('--out', '');
  if (!promptsPath || !outDir) throw new Error('usage: generate_eval --prompts P.json --out DIR [--model ids] ...');
  const modelsDir = arg('--models', 'public/models');
  const ids = arg('--model', 'mmamba-s,uvit-s').split(',').filter(Boolean);
  const vqId = arg('--vq', 'vq-s');
  const steps = Number(arg('--steps', '12'));
  const guidance = Number(arg('--guidance', '4'));
  const tau = Number(arg('--tau', '4.5'));
  const temperature = Number(arg('--temperature', '1'));
  const limit = Number(arg('--limit', '0'));
  let items = readItems(promptsPath);
  if (limit > 0) items = items.slice(0, limit);
  mkdirSync(outDir, { recursive: true });

  const dawn = create([]) as unknown as GPU; // stays referenced for the process lifetime (Dawn crashes otherwise)
  const ctx = await acquireDevice(dawn, { label: 'generate-eval' });
  console.log(`adapter: ${describeAdapter(ctx.adapterInfo)}`);
  const e = new Engine(ctx);
  const vq = loadModel(join(modelsDir, vqId));
  for (const id of ids) {
    const pipe = TextToImage.create(e, loadModel(join(modelsDir, id)), vq);
    const side = (vq.manifest.config as { image_size: number }).image_size;
    const out = new Uint8Array(items.length * side * side * 3);
    const t0 = performance.now();
    for (const [i, it] of items.entries()) {
      const res = await pipe.generate({ prompt: it.prompt, seed: it.seed, steps, guidance, tau, temperature });
      copyRGB(out, i * side * side * 3, res.pixels, side);
    }
    const msPerImage = (performance.now() - t0) / Math.max(items.length, 1);
    writeFileSync(join(outDir, `${id}.u8`), out);
    writeFileSync(
      join(outDir, `${id}.json`),
      JSON.stringify(
        { model: id, count: items.length, size: side, steps, guidance, tau, temperature, msPerImage, items },
        null,
        1,
      ),
    );
    console.log(`${id}: ${items.length} images, ${msPerImage.toFixed(1)} ms/image -> ${join(outDir, `${id}.u8`)}`);
    pipe.dispose();
  }
  e.dispose();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
