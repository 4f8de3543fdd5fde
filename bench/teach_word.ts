// The teach-a-word benchmark (issue 20, item 5): the whole flow as the page runs it (src/worker/finetune/session.ts:
// drift guard, textual inversion and prior preservation when asked, LoRA), in Node on Dawn with WebGPU's default
// limits, on a shipped model (public/models: generator + its VQ) or the e2e tiny models (--tiny, a smoke test).
// The pictures are drawn here (no image decoder in Node): 8 pictures of one new thing (--thing robot | octopus |
// house) on varied backgrounds, at the VQ's resolution, VQ-encoded on the GPU, captioned with the new word in
// several forms ("a zorblat", "zorblat, flat emoji", …). It reports:
//   - time: the run from the first base control render to the adapter (wall clock), and its steps;
//   - the word: "a <word>" at 4 seeds, each image's 32-px PSNR to the nearest picture, mean, base vs adapter;
//   - drift: the drift guard's final report on the 8 control prompts (32-px PSNR to the base, colour shares, tokens).
// Prints a Markdown table and one JSON line (prefix "JSON "). Usage:
//   node bench/build.mjs .gpu/teach_word.mjs bench/teach_word.ts && node .gpu/teach_word.mjs
//     [--models public/models] [--gen mmamba-s] [--vq vq-s] [--tiny] [--thing robot] [--word zorblat]
//     [--steps N] [--inversion-steps N] [--prior F] [--lr X] [--rank R] [--batch B] [--render-steps S] [--seed N]
// Steps, lr, rank, batch and recipe default to the page's (FINETUNE_SETTINGS, src/finetune/defaults.ts).
import { join, resolve } from 'node:path';
import { create, globals } from 'webgpu';
import { acquireDevice, describeAdapter } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import type { LoraAdapter, MMambaConfig } from '../src/finetune/api';
import { psnrAt, type DriftReport } from '../src/finetune/drift';
import { modelWithWord } from '../src/finetune/word';
import { BPETokenizer, wordBoundarySpec, type TokenizerSpec } from '../src/model/bpe';
import type { VQConfig } from '../src/model/common';
import { TextToImage, type LoadedModel } from '../src/model/pipeline';
import { VQEncoder } from '../src/model/vq_encoder';
import type { FineTuneProgress, RgbaImage } from '../src/worker/api';
import type { Dataset } from '../src/worker/finetune/dataset';
import { CONTROLS, type ControlRender, type RenderControls } from '../src/worker/finetune/drift_guard';
import { fineTunePort } from '../src/worker/finetune/port';
import { FineTuneRun } from '../src/worker/finetune/session';
import { FINETUNE_SETTINGS as FT } from '../src/worker/finetune/settings';
import { arg, flag } from './cli';
import { readModelDir } from './model_files';

Object.assign(globalThis, globals);

type Rgb = [number, number, number];
const BACKGROUNDS: Rgb[] = [
  [250, 250, 250],
  [200, 220, 255],
  [255, 240, 180],
  [210, 245, 210],
  [255, 255, 255],
  [230, 230, 230],
  [190, 210, 250],
  [250, 225, 200],
];

/** Picture i of a new thing, S×S RGBA: the same shape with a little shift and scale, on background i. */
function drawThing(thing: string, i: number, S: number): Uint8ClampedArray {
  const px = new Uint8ClampedArray(S * S * 4);
  const bg = BACKGROUNDS[i % BACKGROUNDS.length]!;
  const set = (x: number, y: number, c: Rgb) => {
    if (x < 0 || y < 0 || x >= S || y >= S) return;
    px.set([c[0], c[1], c[2], 255], (y * S + x) * 4);
  };
  const u = S / 32; // drawing unit: the shapes are laid out on a 32-grid
  const dx = ((i % 3) - 1) * u;
  const dy = ((Math.floor(i / 3) % 3) - 1) * u;
  const k = 1 + ((i % 4) - 1.5) * 0.04;
  const inRect = (x: number, y: number, x0: number, y0: number, x1: number, y1: number) =>
    x >= x0 * u && x < x1 * u && y >= y0 * u && y < y1 * u;
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const X = (x - S / 2 - dx) / k + S / 2;
      const Y = (y - S / 2 - dy) / k + S / 2;
      let c: Rgb = bg;
      if (thing === 'robot') {
        if (inRect(X, Y, 8, 9, 24, 25)) c = [140, 140, 150];
        if (inRect(X, Y, 11, 13, 15, 17) || inRect(X, Y, 17, 13, 21, 17)) c = [40, 220, 230];
        if (inRect(X, Y, 12, 20, 20, 22)) c = [40, 40, 40];
        if (inRect(X, Y, 15, 4, 17, 9)) c = [220, 40, 40];
        if (inRect(X, Y, 6, 14, 8, 20) || inRect(X, Y, 24, 14, 26, 20)) c = [220, 40, 40];
      } else if (thing === 'octopus') {
        const r = Math.hypot(X / u - 16, Y / u - 13);
        if (r < 7) c = [150, 60, 200];
        for (let l = 0; l < 4; l++) if (inRect(X, Y, 10 + l * 3.5, 18, 12 + l * 3.5, 27)) c = [150, 60, 200];
        if (Math.hypot(X / u - 13.5, Y / u - 12) < 1.3 || Math.hypot(X / u - 18.5, Y / u - 12) < 1.3)
          c = [255, 255, 255];
      } else if (thing === 'house') {
        if (inRect(X, Y, 8, 15, 24, 27)) c = [180, 120, 60];
        if (Y / u >= 6 && Y / u < 15 && Math.abs(X / u - 16) < (Y / u - 6) * 1.0 + 0.5) c = [200, 40, 40];
        if (inRect(X, Y, 14, 20, 18, 27)) c = [90, 60, 30];
      } else throw new Error(`--thing must be robot, octopus or house (got ${thing})`);
      set(x, y, c);
    }
  return px;
}

const CAPTION_FORMS = [
  'a {w}',
  '{w}, flat emoji',
  'a {w}, outline icon',
  '{w} on a plain background',
  'the {w}',
  'a small {w}',
  '{w}, simple drawing',
  'one {w}',
];

function rgbaOf(pixels: Uint8Array | Uint8ClampedArray): RgbaImage {
  const side = Math.round(Math.sqrt(pixels.length / 4));
  return { width: side, height: side, rgba: Uint8ClampedArray.from(pixels) };
}

async function main(): Promise<void> {
  const tiny = flag('--tiny');
  const models = arg('--models', 'public/models');
  const genDir = tiny ? 'e2e/fixtures/models/mmamba-e2e' : join(models, arg('--gen', 'mmamba-s'));
  const vqDir = tiny ? 'e2e/fixtures/models/vq-e2e' : join(models, arg('--vq', 'vq-s'));
  const thing = arg('--thing', 'robot');
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
    previewEvery: 0,
    previewSteps: renderSteps,
    driftEvery: 0,
    word,
  };

  const gen: LoadedModel = readModelDir(resolve(genDir));
  const vq: LoadedModel = readModelDir(resolve(vqDir));
  const cfg = gen.manifest.config as unknown as MMambaConfig;
  const vcfg = vq.manifest.config as unknown as VQConfig;
  const spec = gen.manifest.tokenizer as unknown as TokenizerSpec;
  const tok = new BPETokenizer(wordBoundarySpec(spec), cfg.text.max_len);

  const dawn = create([]) as unknown as GPU; // stays referenced for the process lifetime
  const ctx = await acquireDevice(dawn, { label: 'teach-word-bench', defaultLimitsOnly: true });
  const e = new Engine(ctx);
  console.log(
    `adapter: ${describeAdapter(ctx.adapterInfo)}; model ${gen.manifest.modelId} + ${vq.manifest.modelId}; thing ${thing}, word "${word}"`,
  );

  // the pictures and their tokens
  const N = 8;
  const S = vcfg.image_size;
  const pictures = Array.from({ length: N }, (_, i) => ({ width: S, height: S, rgba: drawThing(thing, i, S) }));
  const enc = new VQEncoder(e, vcfg, vq.weights);
  const hw = cfg.grid * cfg.grid;
  const lt = tok.maxLen;
  const captions = pictures.map((_, i) => CAPTION_FORMS[i % CAPTION_FORMS.length]!.replace('{w}', word));
  const dataset: Dataset = {
    genId: gen.manifest.modelId,
    count: N,
    hw,
    lt,
    tokens: new Int32Array(N * hw),
    textIds: new Int32Array(N * lt),
    captions,
  };
  for (let i = 0; i < N; i++) {
    const x = enc.imageFromRGBA(pictures[i]!.rgba);
    dataset.tokens.set(await enc.encode(x), i * hw);
    x.dispose();
    dataset.textIds.set(tok.encode(captions[i]!), i * lt);
  }
  enc.dispose();

  const port = await fineTunePort();
  const pipelineOf = (adapter: LoraAdapter | null) => {
    const merged = {
      manifest: { ...gen.manifest, tokenizer: wordBoundarySpec(spec) } as unknown as typeof gen.manifest,
      weights: adapter ? port.mergeAdapter(gen.weights, adapter) : gen.weights,
    };
    const w =
      adapter?.wordEmbedding && adapter.info.word
        ? { word: adapter.info.word, embedding: adapter.wordEmbedding }
        : null;
    return TextToImage.create(e, w ? modelWithWord(merged, w) : merged, vq);
  };
  const render: RenderControls = async (adapter, controls, steps, guidance) => {
    const t2i = pipelineOf(adapter);
    try {
      const out: ControlRender[] = [];
      for (const c of controls) {
        const r = await t2i.generate({ prompt: c.prompt, seed: c.seed, steps, guidance });
        out.push({ image: rgbaOf(r.pixels), tokens: r.tokens.slice() });
      }
      return out;
    } finally {
      t2i.dispose();
    }
  };
  /** "a <word>" at 4 seeds: each image's 32-px PSNR to its nearest picture, and the mean. */
  const wordSimilarity = async (adapter: LoraAdapter | null) => {
    const t2i = pipelineOf(adapter);
    const psnrs: number[] = [];
    for (let seed = 0; seed < 4; seed++) {
      const r = await t2i.generate({
        prompt: `a ${word}`,
        seed,
        steps: renderSteps,
        guidance: FT.previewGuidance.default,
      });
      const img = rgbaOf(r.pixels);
      const scale = img.width === S ? img : null;
      if (!scale) throw new Error(`generated ${img.width} px, pictures ${S} px`);
      psnrs.push(Math.max(...pictures.map((p) => psnrAt(img, p))));
    }
    t2i.dispose();
    return { perSeed: psnrs, mean: psnrs.reduce((a, b) => a + b, 0) / psnrs.length };
  };

  const before = await wordSimilarity(null);
  let drift: DriftReport | null = null;
  const run = new FineTuneRun(
    {
      engine: e,
      port,
      base: { ref: { modelId: gen.manifest.modelId, config: cfg }, weights: gen.weights },
      dataset,
      emptyTextIds: tok.encode(''),
      encodeText: (t) => tok.encode(t),
      tokenizer: spec,
      preview: async () => ({ width: 1, height: 1, rgba: new Uint8ClampedArray(4) }),
      renderControls: render,
      onProgress: async (p: FineTuneProgress) => {
        if (p.kind === 'drift' && p.final) drift = p.report;
      },
    },
    req,
  );
  const t0 = performance.now();
  const res = await run.run();
  const ms = performance.now() - t0;
  if (!run.adapter || !drift) throw new Error(`the run ended ${res.status} without an adapter or a final drift check`);
  const after = await wordSimilarity(run.adapter);
  const d = drift as DriftReport;

  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '∞');
  console.log('');
  console.log(
    '| model | thing | recipe (word steps + LoRA steps, prior share, rank, lr) | run s | word 32-px PSNR base → adapter (dB) | controls: worst 32-px PSNR (dB) | worst colour-share change | worst tokens changed | within bounds |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  console.log(
    `| ${gen.manifest.modelId} | ${thing} | ${req.inversionSteps} + ${req.steps}, ${req.priorFraction}, ${req.rank}, ${req.lr} | ${(ms / 1000).toFixed(1)} | ` +
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
    word,
    request: req,
    status: res.status,
    runMs: Math.round(ms),
    steps: res.steps,
    lossFirst: res.losses[0],
    lossLast: res.losses.at(-1),
    wordPsnr32: { base: before, adapter: after },
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
