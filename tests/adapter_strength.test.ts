// Adapter strength at generation (W + strength·(alpha/rank)·B·A) and the adapter's word-boundary prompts, through
// the worker's fine-tuning service (src/worker/finetune/service.ts) on the e2e tiny models in Node on Dawn: strength
// 0 draws exactly what the base model draws, 1 exactly what the adapter merged as before draws; the request check
// keeps the strength in ADAPTER_STRENGTH; the adapter reads "A Zorblat," as "a zorblat ,".
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoraConfig, MMambaConfig } from '../src/finetune/api';
import { ADAPTER_STRENGTH } from '../src/finetune/defaults';
import { initAdapter, mergeAdapter } from '../src/finetune/lora';
import { TextToImage } from '../src/model/pipeline';
import { AdapterStore } from '../src/worker/finetune/adapter_store';
import { fineTunePort } from '../src/worker/finetune/port';
import { FineTuneService } from '../src/worker/finetune/service';
import { checkGenerateRequest, InvalidGenerateRequestError } from '../src/worker/generation/requests';
import { getEngine } from './gpu';
import { memoryKv } from './memory_kv';
import { loadModelDir } from './model_dirs';

const E2E = resolve(__dirname, '..', 'e2e', 'fixtures', 'models');
const gen = loadModelDir(`${E2E}/mmamba-e2e`);
const vq = loadModelDir(`${E2E}/vq-e2e`);
const cfg = gen.manifest.config as unknown as MMambaConfig;
const LORA: LoraConfig = { rank: 2, alpha: 2, targets: ['in_proj', 'out_proj', 'head', 'text'] };

/** An adapter whose B factors are not zero, so it visibly changes the drawing. */
function adapter() {
  const a = initAdapter({ modelId: 'mmamba-e2e', config: cfg }, LORA, 1);
  for (const p of a.pairs.values())
    p.B.data.forEach((_, i, d) => {
      d[i] = Math.sin(i + 1) * 2;
    });
  return a;
}

function service() {
  return new FineTuneService(
    {
      ensureEngine: getEngine,
      models: () => ({ genId: 'mmamba-e2e', vqId: 'vq-e2e', gen, vq }),
      createPipeline: async (e, g, v) => TextToImage.create(e, g, v),
      stopGeneration: async () => undefined,
    },
    new AdapterStore(memoryKv()),
  );
}

describe('adapter strength', () => {
  it('merging at strength 0 gives the base values; at 0.5 halfway to the adapter', () => {
    const a = adapter();
    const zero = mergeAdapter(gen.weights, a, 0);
    const one = mergeAdapter(gen.weights, a);
    const half = mergeAdapter(gen.weights, a, 0.5);
    for (const name of a.pairs.keys()) {
      const w = gen.weights.get(name)!.data;
      expect(zero.get(name)!.data, name).toEqual(w);
      const o = one.get(name)!.data;
      const h = half.get(name)!.data;
      expect(
        o.some((v, i) => v !== w[i]),
        name,
      ).toBe(true);
      for (let i = 0; i < w.length; i++)
        expect(Math.abs(h[i]! - (w[i]! + o[i]!) / 2)).toBeLessThan(1e-5 * (1 + Math.abs(o[i]!)));
    }
  });

  it('generation: strength 0 = the base model, 1 = the adapter as merged before, 1.5 differs', async () => {
    const e = await getEngine();
    const port = await fineTunePort();
    const a = adapter();
    const w = service();
    await w.importAdapter(port.serializeAdapter(a), 'zorblat');
    const req = { prompt: 'a zorblat', seed: 3, steps: 2, guidance: 2 };
    const tokensOf = async (p: { generate: TextToImage['generate'] }) => Array.from((await p.generate(req)).tokens);

    const base = TextToImage.create(e, gen, vq);
    const plain = await tokensOf(base);
    base.dispose();
    const before = TextToImage.create(e, { manifest: gen.manifest, weights: mergeAdapter(gen.weights, a) }, vq);
    const merged = await tokensOf(before);
    before.dispose();
    expect(merged).not.toEqual(plain); // the adapter changes the drawing at all

    expect(await tokensOf(await w.pipelineFor('zorblat', 0))).toEqual(plain);
    const one = await w.pipelineFor('zorblat');
    expect(await tokensOf(one)).toEqual(merged);
    expect(await w.pipelineFor('zorblat', 1)).toBe(one); // cached per adapter and strength
    const strong = await w.pipelineFor('zorblat', ADAPTER_STRENGTH.max);
    expect(strong).not.toBe(one);
    expect(await tokensOf(strong)).not.toEqual(merged);
    w.dropGpu();
  });

  it("the adapter's prompts are cut at word boundaries: punctuation and case do not change the word", async () => {
    const w = service();
    await w.importAdapter((await fineTunePort()).serializeAdapter(adapter()), 'zorblat');
    const p = (await w.pipelineFor('zorblat')) as TextToImage;
    expect(p.tokenizer.split).toBe('word-boundary');
    expect(Array.from(p.tokenizer.encode('A Zorblat,'))).toEqual(Array.from(p.tokenizer.encode('a zorblat ,')));
    w.dropGpu();
  });

  it('the request check keeps the strength in 0–1.5 and only with an adapter', () => {
    expect(
      checkGenerateRequest({ prompt: 'x', seed: 1, adapter: 'zorblat', adapterStrength: 0.5 }).adapterStrength,
    ).toBe(0.5);
    expect(checkGenerateRequest({ prompt: 'x', seed: 1, adapter: 'zorblat', adapterStrength: 0 }).adapterStrength).toBe(
      0,
    );
    expect(checkGenerateRequest({ prompt: 'x', seed: 1, adapterStrength: 0.5 }).adapterStrength).toBeUndefined();
    for (const bad of [-0.1, 1.6, NaN, '1', null])
      expect(() => checkGenerateRequest({ prompt: 'x', seed: 1, adapter: 'zorblat', adapterStrength: bad })).toThrow(
        InvalidGenerateRequestError,
      );
  });
});
