// End-to-end generation benchmark in Node on Dawn: loads the shipped models from public/models (the same
// manifests and shards the page downloads), times whole guided generations (TextToImage.generate: text encode,
// S forwards of batch 2, S previews decoded and read back) and, separately and synchronised, each part: text
// encode, one generator forward (batch 2), one VQ decode with its readback. Also counts GPU↔CPU transfers per step
// (Engine.read calls = readbacks; Engine.write calls = tensor uploads; uniform writes are not counted), and the
// buffer pool's peak live and total bytes over the whole generations (weights included).
// Writes the final images as PPM with --out.
// Usage: node .gpu/generate.mjs [--models DIR] [--generators mmamba-s,uvit-s] [--vq vq-s] [--tokenizer FILE]
//        [--steps S] [--guidance G] [--runs R] [--prompt 'A|B'] [--out DIR] [--scan fused|chunked]
// --scan chunked: M-Mamba generators use the chunk-parallel scan candidate (ops/selective_scan.ts) instead of the fused
// one. --tokenizer FILE: a JSON file with a `tokenizer` key, for generators whose manifest has none (test fixtures:
// --models tests/fixtures --generators mmamba_tiny,uvit_tiny --vq vq_tiny --tokenizer
// tests/fixtures/pipeline_cases.json).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { acquireDevice, describeAdapter } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import type { TokenizerSpec } from '../src/model/bpe';
import { MMamba } from '../src/model/mmamba';
import { TextToImage } from '../src/model/pipeline';
import { arg } from './cli';
import { readModelDir as loadModel } from './model_files';

Object.assign(globalThis, globals);

function writePPM(path: string, rgba: Uint8ClampedArray, side: number): void {
  const rgb = Buffer.alloc(side * side * 3);
  for (let i = 0; i < side * side; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = rgba[i * 4 + c]!;
  writeFileSync(path, Buffer.concat([Buffer.from(`P6\n${side} ${side}\n255\n`), rgb]));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '–');

/** Counts the engine's readbacks and tensor uploads (wraps the instance's methods; behaviour unchanged). */
function countTransfers(e: Engine): { reads: number; readBytes: number; writes: number; reset(): void } {
  const c = {
    reads: 0,
    readBytes: 0,
    writes: 0,
    reset: () => {
      c.reads = 0;
      c.readBytes = 0;
      c.writes = 0;
    },
  };
  const read = e.read.bind(e);
  const write = e.write.bind(e);
  e.read = (async (t) => {
    c.reads++;
    c.readBytes += t.byteLength;
    return read(t);
  }) as Engine['read'];
  e.write = ((t, data, off) => (c.writes++, write(t, data, off))) as Engine['write'];
  return c;
}

interface PartTimes {
  encodeMs: number;
  forwardMs: number;
  decodeMs: number;
}

/** Each part alone, synchronised with the GPU, median of `reps`: text encode (cond + uncond), one batch-2 forward
 *  (batch 1 when guidance is 1) on an all-[MASK] grid, one preview (VQ decode of a grid on the GPU, packed RGBA +
 *  grid) and its readback. */
async function timeParts(
  e: Engine,
  pipe: TextToImage,
  guidance: number,
  prompt: string,
  reps: number,
): Promise<PartTimes> {
  const g = pipe.generator;
  const HW = g.config.grid * g.config.grid;
  const rows = guidance === 1 ? 1 : 2;
  const ids = new Int32Array(rows * g.config.text.max_len);
  ids.set(pipe.tokenizer.encode(prompt));
  if (rows === 2) ids.set(pipe.tokenizer.encode(''), g.config.text.max_len);
  const enc: number[] = [];
  const fwd: number[] = [];
  const dec: number[] = [];
  const img = e.fromArray([rows, HW], new Uint32Array(rows * HW).fill(g.config.codebook_size), 'u32', 'bench.tokens');
  const grid = e.fromArray(
    [1, HW],
    Uint32Array.from({ length: HW }, (_, i) => (i * 7919) % g.config.codebook_size),
    'u32',
    'bench.grid',
  );
  for (let r = 0; r <= reps; r++) {
    let t = performance.now();
    const cond = g.encodeText(ids, rows);
    await e.sync();
    if (r > 0) enc.push(performance.now() - t);
    t = performance.now();
    g.logits(img, cond).dispose();
    await e.sync();
    if (r > 0) fwd.push(performance.now() - t);
    cond.dispose();
    t = performance.now();
    const packed = pipe.decoder.preview(grid);
    await e.read(packed);
    packed.dispose();
    if (r > 0) dec.push(performance.now() - t);
  }
  img.dispose();
  grid.dispose();
  return { encodeMs: median(enc), forwardMs: median(fwd), decodeMs: median(dec) };
}

async function main(): Promise<void> {
  const modelsDir = arg('--models', 'public/models');
  const generators = arg('--generators', 'mmamba-s,uvit-s').split(',');
  const vqId = arg('--vq', 'vq-s');
  const tokFile = arg('--tokenizer', '');
  const outDir = arg('--out', '');
  const steps = Number(arg('--steps', '12'));
  const guidance = Number(arg('--guidance', '4'));
  const scan = arg('--scan', 'fused');
  if (scan !== 'fused' && scan !== 'chunked') throw new Error(`--scan must be fused or chunked, got ${scan}`);
  const runs = Number(arg('--runs', '5'));
  const prompts = arg('--prompt', 'red apple|yellow star, outline icon, center, blue background').split('|');
  const tokenizer = tokFile
    ? (JSON.parse(readFileSync(tokFile, 'utf8')) as { tokenizer: TokenizerSpec }).tokenizer
    : undefined;
  const dawn = create([]) as unknown as GPU; // stays referenced for the process lifetime (Dawn crashes otherwise)
  const ctx = await acquireDevice(dawn, { label: 'generate-bench' });
  console.log(`adapter: ${describeAdapter(ctx.adapterInfo)}; features: ${ctx.features.join(', ')}`);
  console.log(
    `${steps} steps, guidance ${guidance}, ${scan} scan; generate: first run (incl. pipeline compile) and median of ${runs}; parts: each alone, synchronised, median of ${runs}`,
  );
  console.log('');
  const e = new Engine(ctx);
  const counts = countTransfers(e);
  const vq = loadModel(join(modelsDir, vqId));
  if (outDir) mkdirSync(outDir, { recursive: true });
  const table = [
    `| generator | steps | guidance | first run (ms) | median total (ms) | per step (ms) | text encode (ms) | forward (ms) | decode + readback (ms) | readbacks / step | KiB read / step | uploads / step |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const notes: string[] = [];
  for (const id of generators) {
    e.pool.trim(); // each generator starts from an empty pool: its peak and pool total are its own
    e.pool.peakLiveBytes = e.pool.liveBytes;
    const t0 = performance.now();
    const pipe = TextToImage.create(e, loadModel(join(modelsDir, id)), vq, tokenizer);
    if (pipe.generator instanceof MMamba) pipe.generator.scanKernel = scan;
    const tLoad = performance.now() - t0;
    const totals: number[] = [];
    let first = 0;
    let transfers = { reads: 0, readBytes: 0, writes: 0 };
    for (let r = 0; r <= runs; r++) {
      const prompt = prompts[r % prompts.length]!;
      counts.reset();
      const res = await pipe.generate({ prompt, seed: r, steps, guidance });
      if (r === 0) first = res.timings.totalMs;
      else totals.push(res.timings.totalMs);
      // transfers of a warm run (the first one also uploads the weights lazily)
      if (r === Math.min(1, runs))
        transfers = { reads: counts.reads, readBytes: counts.readBytes, writes: counts.writes };
      if (outDir && r <= prompts.length) writePPM(join(outDir, `${id}-${r}.ppm`), res.pixels, pipe.decoder.imageSize);
      process.stderr.write(`${id}: run ${r} ${f(res.timings.totalMs)} ms\n`);
    }
    const memory = { peak: e.pool.peakLiveBytes, total: e.pool.liveBytes + e.pool.pooledBytes };
    const parts = await timeParts(e, pipe, guidance, prompts[0]!, Math.max(1, runs));
    const med = totals.length ? median(totals) : first;
    table.push(
      `| ${id} | ${steps} | ${guidance} | ${f(first)} | ${f(med)} | ${f(med / steps, 2)} | ${f(parts.encodeMs, 2)} | ${f(parts.forwardMs, 2)} | ${f(parts.decodeMs, 2)} | ${f(transfers.reads / steps, 2)} | ${f(transfers.readBytes / 1024 / steps, 1)} | ${f(transfers.writes / steps, 2)} |`,
    );
    notes.push(
      `- ${id}: weights uploaded in ${f(tLoad, 0)} ms; per warm generation ${transfers.reads} readbacks (${f(transfers.readBytes / 1024, 1)} KiB), ${transfers.writes} tensor uploads; ` +
        `GPU memory of the pool during the generations: peak live ${f(memory.peak / 2 ** 20)} MiB, pool total ${f(memory.total / 2 ** 20)} MiB (weights included; uniforms and staging buffers not counted)`,
    );
    pipe.dispose();
  }
  console.log(table.join('\n'));
  console.log('');
  console.log(notes.join('\n'));
  e.dispose();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
