// Shared by the teach-a-word benchmarks (bench/teach_word.ts: one run; bench/teach_recipes.ts: recipes compared
// across things and art styles): the picture sets drawn here (no image decoder or data set needed in Node), their
// captions, one whole teach-a-word run as the page's worker runs it (src/worker/finetune/session.ts FineTuneRun:
// drift guard, textual inversion and prior preservation when asked, LoRA), the word's similarity to its pictures,
// and a PNG writer for contact sheets. Base-model renders are cached (they do not depend on the recipe).
import { deflateSync } from 'node:zlib';
import type { Engine } from '../src/engine/engine';
import type { LoraAdapter, MMambaConfig } from '../src/finetune/api';
import { psnrAt, type DriftReport } from '../src/finetune/drift';
import { modelWithWord } from '../src/finetune/word';
import { adapterApplies } from '../src/finetune/word_gate';
import { BPETokenizer, wordBoundarySpec, type TokenizerSpec } from '../src/model/bpe';
import type { VQConfig } from '../src/model/common';
import { TextToImage, type LoadedModel } from '../src/model/pipeline';
import { VQEncoder } from '../src/model/vq_encoder';
import type { FineTuneProgress, RgbaImage } from '../src/worker/api';
import type { Dataset } from '../src/worker/finetune/dataset';
import type { ControlRender, RenderControls } from '../src/worker/finetune/drift_guard';
import { fineTunePort } from '../src/worker/finetune/port';
import { FineTuneRun } from '../src/worker/finetune/session';
import { FINETUNE_SETTINGS as FT } from '../src/worker/finetune/settings';

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

export const THINGS = ['robot', 'octopus', 'house'] as const;
/** Art styles: `flat` (filled shapes in their colours on varied backgrounds), `outline` (the same shapes' outlines
 *  as dark strokes on white, as an outline icon). */
export const STYLES = ['flat', 'outline'] as const;

/** The colour of each position of picture i of `thing` in flat style, S×S (null: background). */
function flatShape(thing: string, i: number, S: number): (Rgb | null)[] {
  const out: (Rgb | null)[] = new Array(S * S).fill(null);
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
      let c: Rgb | null = null;
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
      } else throw new Error(`the thing must be one of ${THINGS.join(', ')} (got ${thing})`);
      out[y * S + x] = c;
    }
  return out;
}

const same = (a: Rgb | null, b: Rgb | null) =>
  a === b || (!!a && !!b && a[0] === b[0] && a[1] === b[1] && a[2] === b[2]);

/** Picture i of a new thing in an art style, S×S RGBA: the same shape with a little shift and scale. */
export function drawThing(thing: string, i: number, S: number, style = 'flat'): Uint8ClampedArray {
  if (!(STYLES as readonly string[]).includes(style))
    throw new Error(`the style must be one of ${STYLES.join(', ')} (got ${style})`);
  const shape = flatShape(thing, i, S);
  const px = new Uint8ClampedArray(S * S * 4);
  const bg = BACKGROUNDS[i % BACKGROUNDS.length]!;
  // a stroke about S/32 px wide: a pixel is on it when a neighbour within [−lo, hi] is in another region
  const width = Math.max(2, Math.round(S / 32));
  const lo = Math.floor((width - 1) / 2);
  const hi = width - 1 - lo;
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const c = shape[y * S + x]!;
      let rgb: Rgb;
      if (style === 'flat') rgb = c ?? bg;
      else {
        let edge = false;
        for (let oy = -lo; oy <= hi && !edge; oy++)
          for (let ox = -lo; ox <= hi && !edge; ox++) {
            const xx = Math.min(S - 1, Math.max(0, x + ox));
            const yy = Math.min(S - 1, Math.max(0, y + oy));
            edge = !same(shape[yy * S + xx]!, c);
          }
        rgb = edge ? [30, 30, 35] : [255, 255, 255];
      }
      px.set([rgb[0], rgb[1], rgb[2], 255], (y * S + x) * 4);
    }
  return px;
}

export const CAPTION_FORMS = [
  'a {w}',
  '{w}, flat emoji',
  'a {w}, outline icon',
  '{w} on a plain background',
  'the {w}',
  'a small {w}',
  '{w}, simple drawing',
  'one {w}',
];

export function rgbaOf(pixels: Uint8Array | Uint8ClampedArray): RgbaImage {
  const side = Math.round(Math.sqrt(pixels.length / 4));
  return { width: side, height: side, rgba: Uint8ClampedArray.from(pixels) };
}

/** A teach-a-word recipe: word (inversion) steps, then LoRA steps, with a prior-preservation share; its own LoRA
 *  learning rate when given (else the run's). */
export interface Recipe {
  name: string;
  inversionSteps: number;
  steps: number;
  priorFraction: number;
  lr?: number;
}

/** Parses "name=I+L@P[/lrX],…" (I word steps, L LoRA steps, P prior share, X the LoRA learning rate), e.g.
 *  "lora=0+200@0,pivotal=100+100@0,lora-lr=0+200@0/lr0.0005". */
export function parseRecipes(s: string): Recipe[] {
  return s.split(',').map((part) => {
    const m = /^([\w.-]+)=(\d+)\+(\d+)@([\d.]+)(?:\/lr(\d+(?:\.\d+)?(?:e-?\d+)?))?$/.exec(part.trim());
    if (!m)
      throw new Error(
        `a recipe is name=WORDSTEPS+LORASTEPS@PRIOR[/lrLR] (e.g. pivotal=100+100@0.25, lora-lr=0+200@0/lr0.0005), got "${part}"`,
      );
    const r: Recipe = { name: m[1]!, inversionSteps: Number(m[2]), steps: Number(m[3]), priorFraction: Number(m[4]) };
    if (m[5] !== undefined) r.lr = Number(m[5]);
    return r;
  });
}

export interface WordScore {
  /** Per seed: 32-px PSNR (dB) of "a <word>" to its nearest picture. */
  perSeed: number[];
  mean: number;
  images: RgbaImage[];
}

export interface RunResult {
  status: string;
  runMs: number;
  steps: number;
  losses: number[];
  adapter: LoraAdapter;
  drift: DriftReport;
  /** The final drift check's renders of the controls with the adapter forced on (the leakage). */
  controlImages: RgbaImage[];
}

/** One model pair on one engine: pictures → dataset, whole runs, renders (base renders cached). */
export class TeachBench {
  readonly cfg: MMambaConfig;
  readonly vcfg: VQConfig;
  readonly spec: TokenizerSpec;
  readonly tok: BPETokenizer;
  private readonly baseCache = new Map<string, { image: RgbaImage; tokens: Uint32Array }>();
  private port: Awaited<ReturnType<typeof fineTunePort>> | null = null;

  constructor(
    readonly e: Engine,
    readonly gen: LoadedModel,
    readonly vq: LoadedModel,
  ) {
    this.cfg = gen.manifest.config as unknown as MMambaConfig;
    this.vcfg = vq.manifest.config as unknown as VQConfig;
    this.spec = gen.manifest.tokenizer as unknown as TokenizerSpec;
    this.tok = new BPETokenizer(wordBoundarySpec(this.spec), this.cfg.text.max_len);
  }

  get side(): number {
    return this.vcfg.image_size;
  }

  /** The 8 pictures of `thing` in `style` at the VQ's resolution. */
  pictures(thing: string, style: string, n = 8): RgbaImage[] {
    const S = this.side;
    return Array.from({ length: n }, (_, i) => ({ width: S, height: S, rgba: drawThing(thing, i, S, style) }));
  }

  /** The pictures VQ-encoded, captioned with the word in CAPTION_FORMS. */
  async dataset(pictures: RgbaImage[], word: string): Promise<Dataset> {
    const enc = new VQEncoder(this.e, this.vcfg, this.vq.weights);
    const hw = this.cfg.grid * this.cfg.grid;
    const lt = this.tok.maxLen;
    const N = pictures.length;
    const captions = pictures.map((_, i) => CAPTION_FORMS[i % CAPTION_FORMS.length]!.replace('{w}', word));
    const ds: Dataset = {
      genId: this.gen.manifest.modelId,
      count: N,
      hw,
      lt,
      tokens: new Int32Array(N * hw),
      textIds: new Int32Array(N * lt),
      captions,
    };
    try {
      for (let i = 0; i < N; i++) {
        const x = enc.imageFromRGBA(pictures[i]!.rgba);
        ds.tokens.set(await enc.encode(x), i * hw);
        x.dispose();
        ds.textIds.set(this.tok.encode(captions[i]!), i * lt);
      }
    } finally {
      enc.dispose();
    }
    return ds;
  }

  private async fineTunePort() {
    this.port ??= await fineTunePort();
    return this.port;
  }

  private async pipelineOf(adapter: LoraAdapter | null): Promise<TextToImage> {
    const port = await this.fineTunePort();
    const merged = {
      manifest: { ...this.gen.manifest, tokenizer: wordBoundarySpec(this.spec) } as unknown as typeof this.gen.manifest,
      weights: adapter ? port.mergeAdapter(this.gen.weights, adapter) : this.gen.weights,
    };
    const w =
      adapter?.wordEmbedding && adapter.info.word
        ? { word: adapter.info.word, embedding: adapter.wordEmbedding }
        : null;
    return TextToImage.create(this.e, w ? modelWithWord(merged, w) : merged, this.vq);
  }

  /** Prompts at seeds with the base (adapter null: cached unless `fresh`) or an adapter forced on (every prompt). */
  async renderMany(
    adapter: LoraAdapter | null,
    items: readonly { prompt: string; seed: number }[],
    steps: number,
    guidance: number,
    fresh = false,
  ): Promise<ControlRender[]> {
    if (items.length === 0) return [];
    const key = (p: { prompt: string; seed: number }) => `${p.prompt}\u0000${p.seed}\u0000${steps}\u0000${guidance}`;
    if (!adapter && !fresh && items.every((p) => this.baseCache.has(key(p))))
      return items.map((p) => this.baseCache.get(key(p))!);
    const t2i = await this.pipelineOf(adapter);
    try {
      const out: ControlRender[] = [];
      for (const c of items) {
        const r = await t2i.generate({ prompt: c.prompt, seed: c.seed, steps, guidance });
        const one = { image: rgbaOf(r.pixels), tokens: Uint32Array.from(r.tokens) };
        if (!adapter && !fresh) this.baseCache.set(key(c), one);
        out.push(one);
      }
      return out;
    } finally {
      t2i.dispose();
    }
  }

  /** Prompts at seeds as the page draws them with `adapter` picked: through the word gate (word_gate.ts), the
   *  adapter for the prompts that hold its word, a fresh base pipeline (not the cache) for the others. */
  async renderGated(
    adapter: LoraAdapter,
    items: readonly { prompt: string; seed: number }[],
    steps: number,
    guidance: number,
  ): Promise<{ renders: ControlRender[]; adapted: number }> {
    const on = items.map((c) => adapterApplies(adapter.info.word, [c.prompt]));
    const withAdapter = await this.renderMany(
      adapter,
      items.filter((_, i) => on[i]),
      steps,
      guidance,
    );
    const withBase = await this.renderMany(
      null,
      items.filter((_, i) => !on[i]),
      steps,
      guidance,
      true,
    );
    let a = 0;
    let b = 0;
    return { renders: items.map((_, i) => (on[i] ? withAdapter[a++]! : withBase[b++]!)), adapted: a };
  }

  /** "a <word>" at 4 seeds: each image's 32-px PSNR to its nearest picture, and the mean. */
  async wordSimilarity(
    adapter: LoraAdapter | null,
    word: string,
    pictures: RgbaImage[],
    steps: number,
  ): Promise<WordScore> {
    const items = [0, 1, 2, 3].map((seed) => ({ prompt: `a ${word}`, seed }));
    const r = await this.renderMany(adapter, items, steps, FT.previewGuidance.default);
    const images = r.map((x) => x.image);
    for (const img of images)
      if (img.width !== pictures[0]!.width)
        throw new Error(`generated ${img.width} px, pictures ${pictures[0]!.width} px`);
    const perSeed = images.map((img) => Math.max(...pictures.map((p) => psnrAt(img, p))));
    return { perSeed, mean: perSeed.reduce((a, b) => a + b, 0) / perSeed.length, images };
  }

  /** One whole teach-a-word run as the page's worker runs it (final drift check on all 8 controls). */
  async run(
    ds: Dataset,
    word: string,
    req: {
      rank: number;
      steps: number;
      lr: number;
      batchSize: number;
      seed: number;
      inversionSteps: number;
      priorFraction: number;
      renderSteps: number;
    },
  ): Promise<RunResult> {
    const port = await this.fineTunePort();
    let drift: DriftReport | null = null;
    let controlImages: RgbaImage[] = [];
    // the run has no `sampling`, so its tau and temperature are the page-wide defaults, as renderMany draws
    const render: RenderControls = (adapter, controls, { steps, guidance }) =>
      this.renderMany(adapter, controls, steps, guidance);
    const { renderSteps, ...rest } = req;
    const run = new FineTuneRun(
      {
        engine: this.e,
        port,
        base: { ref: { modelId: this.gen.manifest.modelId, config: this.cfg }, weights: this.gen.weights },
        dataset: ds,
        emptyTextIds: this.tok.encode(''),
        encodeText: (t) => this.tok.encode(t),
        tokenizer: this.spec,
        preview: async () => ({ width: 1, height: 1, rgba: new Uint8ClampedArray(4) }),
        renderControls: render,
        onProgress: async (p: FineTuneProgress) => {
          if (p.kind === 'drift' && p.final) {
            drift = p.report;
            controlImages = p.images.map((im) => ({ ...im, rgba: Uint8ClampedArray.from(im.rgba) }));
          }
        },
      },
      { ...rest, previewEvery: 0, previewSteps: renderSteps, driftEvery: 0, word },
    );
    const t0 = performance.now();
    const res = await run.run();
    const runMs = performance.now() - t0;
    if (!run.adapter || !drift)
      throw new Error(`the run ended ${res.status} without an adapter or a final drift check`);
    return {
      status: res.status,
      runMs,
      steps: res.steps,
      losses: res.losses,
      adapter: run.adapter,
      drift,
      controlImages,
    };
  }
}

// ------------------------------------------------------------------------------------------- PNG contact sheets
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(Buffer.from(type, 'ascii'), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** An RGB PNG of a W×H RGBA image. */
export function encodePng(width: number, height: number, rgba: Uint8Array | Uint8ClampedArray): Uint8Array {
  const raw = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 4;
      raw.set([rgba[s]!, rgba[s + 1]!, rgba[s + 2]!], y * (1 + width * 3) + 1 + x * 3);
    }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter method extras, no interlace
  const parts = [
    Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Rows of equally sized square tiles (missing tiles grey) with a 2-px gap, as one RGBA image. */
export function sheet(rows: RgbaImage[][], side: number): { width: number; height: number; rgba: Uint8ClampedArray } {
  const gap = 2;
  const cols = Math.max(...rows.map((r) => r.length));
  const width = cols * (side + gap) + gap;
  const height = rows.length * (side + gap) + gap;
  const rgba = new Uint8ClampedArray(width * height * 4).fill(255);
  for (const [r, row] of rows.entries())
    for (const [c, img] of row.entries())
      for (let y = 0; y < side; y++)
        for (let x = 0; x < side; x++) {
          const sx = Math.min(img.width - 1, Math.floor((x * img.width) / side));
          const sy = Math.min(img.height - 1, Math.floor((y * img.height) / side));
          const s = (sy * img.width + sx) * 4;
          const d = ((gap + r * (side + gap) + y) * width + gap + c * (side + gap) + x) * 4;
          rgba.set([img.rgba[s]!, img.rgba[s + 1]!, img.rgba[s + 2]!, 255], d);
        }
  return { width, height, rgba };
}
