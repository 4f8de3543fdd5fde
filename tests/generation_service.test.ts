// The worker's generation service (src/worker/generation/service.ts) in Node on Dawn + SwiftShader, with the tiny e2e
// models (e2e/fixtures/models: a 32×32 VQ with 4×4 tokens) served by a stub fetch into an in-memory weight store:
// - previewEveryMs goes through to the pipeline: 0 decodes every step, PREVIEW_EVERY_MS_MAX only the first and last;
//   the steps' tokens and the result are the same either way and equal a TextToImage built on the same models
//   (tests/model_dirs.ts loadModelDir) asked the same (with the generator's recommended tau and temperature, below);
// - decodeTokens of any step's tokens (paced away or not, [MASK] ids included) is that step's picture in the run
//   that decoded every step; a grid that is not a Uint32Array of the model's size is refused, and the service works
//   on; before a model is loaded it says so;
// - a previewEveryMs that is not a number from 0 to PREVIEW_EVERY_MS_MAX is refused with a message naming it, before
//   any work starts;
// - a request that leaves steps, guidance, tau and temperature out is drawn with the loaded generator's recommended
//   sampling settings (its index.json `sampling`, which the stub server adds to the e2e fixture's entry), exactly as
//   a request that names them; listModels reports them.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidRequestError } from '../src/model/errors';
import { TextToImage, type GenerateStep } from '../src/model/pipeline';
import type { GenerateProgress, GenerateRequest } from '../src/worker/api';
import {
  checkGenerateRequest,
  InvalidGenerateRequestError,
  PREVIEW_EVERY_MS_MAX,
} from '../src/worker/generation/requests';
import { GenerationService, type FineTuneHooks } from '../src/worker/generation/service';
import { dawnInstance, getEngine } from './gpu';
import { loadModelDir } from './model_dirs';

const MODELS = resolve(__dirname, '../e2e/fixtures/models');
const ORIGIN = 'http://127.0.0.1:1';

/** The sampling settings the stub index.json recommends for the e2e generator (hoisted: the mock reads it). */
const RECOMMENDED = vi.hoisted(() => ({ steps: 3, guidance: 2.5, tau: 6, temperature: 0.7 }));

// The service makes its own WeightStore; in Node it reads the e2e fixtures through a stub fetch into memory.
vi.mock('../src/worker/weight_store', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/worker/weight_store')>();
  const { memoryKv } = await import('./memory_kv');
  const fs = await import('node:fs');
  const path = await import('node:path');
  const root = path.resolve(__dirname, '../e2e/fixtures/models');
  const origin = 'http://127.0.0.1:1';
  const serve = (async (input: RequestInfo | URL) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const rel = decodeURIComponent(url.pathname.replace(/^\/models\//, ''));
    const file = path.join(root, rel);
    if (url.origin !== origin || rel.includes('..') || !fs.existsSync(file))
      return new Response('not in the e2e fixtures', { status: 404 });
    if (rel === 'index.json') {
      // the generator recommends its own sampling settings (what the service fills a request's gaps with)
      const idx = JSON.parse(fs.readFileSync(file, 'utf8'));
      for (const m of idx.models) if (m.kind !== 'vq') m.sampling = RECOMMENDED;
      return new Response(JSON.stringify(idx));
    }
    return new Response(fs.readFileSync(file));
  }) as typeof fetch;
  class FixtureWeightStore extends real.WeightStore {
    constructor(opts: ConstructorParameters<typeof real.WeightStore>[0] = {}) {
      super({ ...opts, origin, kv: memoryKv(), fetch: serve });
    }
  }
  return { ...real, WeightStore: FixtureWeightStore };
});

const GEN_ID = 'mmamba-e2e';
const request = { prompt: 'a red square', seed: 7, steps: 5, guidance: 3 } satisfies GenerateRequest;
const noFineTune: FineTuneHooks = {
  pipelineFor: async () => {
    throw new Error('no adapter in these tests');
  },
  adapterApplies: async () => false,
  assertNotTraining: () => undefined,
  dropGpu: () => undefined,
};

type Step = Extract<GenerateProgress, { kind: 'step' }>;

async function run(service: GenerationService, req: GenerateRequest) {
  const steps: Step[] = [];
  const res = await service.generate(req, { onProgress: (p) => void (p.kind === 'step' && steps.push(p)) });
  expect(steps.map((s) => s.step)).toEqual(steps.map((_, i) => i));
  return { res, steps };
}

describe('generation service: preview pacing and decodeTokens', () => {
  let service: GenerationService;

  beforeAll(async () => {
    expect(existsSync(`${MODELS}/${GEN_ID}/manifest.json`)).toBe(true);
    await getEngine(); // the shared Dawn instance; the service acquires its own device from it
    vi.stubGlobal('navigator', { gpu: dawnInstance });
    service = new GenerationService({ modelBaseUrl: `${ORIGIN}/models/`, fineTune: noFineTune });
  });

  afterAll(async () => {
    await service?.dispose();
    vi.unstubAllGlobals();
  });

  it('says no model is loaded before one is', async () => {
    await expect(service.decodeTokens(new Uint32Array(16))).rejects.toThrow(/No model is loaded/);
    expect((await service.init()).status).toBe('ready');
    await service.loadModel(GEN_ID);
  });

  it('previewEveryMs goes through: 0 decodes every step, the maximum only the first and last', async () => {
    const every = await run(service, { ...request, previewEveryMs: 0 });
    const paced = await run(service, { ...request, previewEveryMs: PREVIEW_EVERY_MS_MAX });
    const S = request.steps;
    expect(every.steps.map((s) => s.pixels !== undefined)).toEqual(Array(S).fill(true));
    expect(paced.steps.map((s) => s.pixels !== undefined)).toEqual([true, false, false, false, true]);
    for (let k = 0; k < S; k++) {
      const [a, b] = [every.steps[k]!, paced.steps[k]!];
      expect(Array.from(b.tokens), `step ${k}: tokens`).toEqual(Array.from(a.tokens));
      expect(Array.from(b.masked), `step ${k}: mask`).toEqual(Array.from(a.masked));
      expect([b.width, b.height], `step ${k}: size`).toEqual([32, 32]);
      if (b.pixels) expect(b.pixels, `step ${k}: pixels`).toEqual(a.pixels);
    }
    expect(paced.res.tokens).toEqual(every.res.tokens);
    expect(paced.res.image).toEqual(every.res.image);

    // the reference: the same models and request straight through TextToImage
    const engine = await getEngine();
    const ref = await TextToImage.create(engine, loadModelDir(`${MODELS}/${GEN_ID}`), loadModelDir(`${MODELS}/vq-e2e`));
    try {
      const refSteps: GenerateStep[] = [];
      const asked = { ...request, tau: RECOMMENDED.tau, temperature: RECOMMENDED.temperature, previewEveryMs: 0 };
      const r = await engine.checked(() => ref.generate(asked, (s) => void refSteps.push(s)));
      expect(Array.from(every.res.tokens)).toEqual(Array.from(r.tokens));
      expect(every.res.image.rgba).toEqual(r.pixels);
      for (let k = 0; k < S; k++) {
        expect(Array.from(every.steps[k]!.tokens), `reference step ${k}: tokens`).toEqual(
          Array.from(refSteps[k]!.tokens),
        );
        expect(every.steps[k]!.pixels, `reference step ${k}: pixels`).toEqual(refSteps[k]!.pixels);
      }
    } finally {
      ref.dispose();
    }

    // decodeTokens of every step's tokens (step 0 still has [MASK] ids) is the picture the unpaced run showed
    for (let k = 0; k < S; k++) {
      const img = await service.decodeTokens(paced.steps[k]!.tokens);
      expect([img.width, img.height], `step ${k}: decoded size`).toEqual([32, 32]);
      expect(img.rgba, `step ${k}: decodeTokens`).toEqual(every.steps[k]!.pixels);
    }
  });

  it('decodeTokens refuses a grid that is not a Uint32Array of the model size, and works on', async () => {
    await expect(service.decodeTokens([1, 2, 3] as unknown as Uint32Array)).rejects.toThrow(
      /tokens must be a Uint32Array/,
    );
    for (const n of [0, 15, 17, 32]) {
      const bad = service.decodeTokens(new Uint32Array(n));
      await expect(bad, `${n} tokens`).rejects.toBeInstanceOf(InvalidRequestError);
      await expect(service.decodeTokens(new Uint32Array(n)), `${n} tokens`).rejects.toThrow(
        /a token grid has 16 entries/,
      );
    }
    const ok = await service.decodeTokens(new Uint32Array(16));
    expect(ok.rgba.length).toBe(32 * 32 * 4);
  });

  it("a request's missing sampling settings are the loaded generator's recommendation (index.json sampling)", async () => {
    const recommended = RECOMMENDED;
    const listed = (await service.listModels()).models.find((m) => m.id === GEN_ID);
    expect(listed?.sampling).toEqual(recommended);
    const bare = await run(service, { prompt: 'a red square', seed: 7, previewEveryMs: 0 });
    const named = await run(service, { prompt: 'a red square', seed: 7, previewEveryMs: 0, ...recommended });
    expect(bare.steps.length).toBe(3);
    expect(Array.from(bare.res.tokens)).toEqual(Array.from(named.res.tokens));
    expect(bare.res.image.rgba).toEqual(named.res.image.rgba);
    // each recommended value matters: naming the page-wide default instead changes the picture's tokens
    for (const [name, other] of [
      ['guidance', 6],
      ['tau', 0],
      ['temperature', 3],
    ] as const) {
      const changed = await run(service, {
        prompt: 'a red square',
        seed: 7,
        previewEveryMs: 0,
        ...recommended,
        [name]: other,
      });
      expect(Array.from(changed.res.tokens), name).not.toEqual(Array.from(bare.res.tokens));
    }
  });

  it('refuses a previewEveryMs that is not a number from 0 to the maximum, before any work', async () => {
    for (const bad of [-1, -1e-9, Number.NaN, Number.POSITIVE_INFINITY, PREVIEW_EVERY_MS_MAX + 1, '16', null, true]) {
      const message = new RegExp(
        `previewEveryMs is .*; it must be a number of milliseconds from 0 \\(every step's preview\\) to ${PREVIEW_EVERY_MS_MAX}`,
      );
      const req = { ...request, previewEveryMs: bad } as unknown as GenerateRequest;
      await expect(service.generate(req), String(bad)).rejects.toBeInstanceOf(InvalidGenerateRequestError);
      await expect(service.generate(req), String(bad)).rejects.toThrow(message);
    }
  });
});

describe('the worker check of previewEveryMs (no GPU)', () => {
  it('passes 0 to the maximum through as given, and leaves it out when absent', () => {
    for (const v of [0, 1000 / 60, 250, PREVIEW_EVERY_MS_MAX])
      expect(checkGenerateRequest({ prompt: 'x', seed: 1, previewEveryMs: v }).previewEveryMs).toBe(v);
    expect('previewEveryMs' in checkGenerateRequest({ prompt: 'x', seed: 1 })).toBe(false);
  });

  it('refuses anything else, naming the field and the range', () => {
    for (const bad of [-0.5, Number.NaN, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 1e12, '0', null, {}])
      expect(() => checkGenerateRequest({ prompt: 'x', seed: 1, previewEveryMs: bad }), String(bad)).toThrow(
        /Invalid generation request: previewEveryMs is (-0\.5|NaN|-?Infinity|1000000000000|"0"|null|object); it must be a number of milliseconds from 0/,
      );
  });
});
