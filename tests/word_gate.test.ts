// The word gate (src/finetune/word_gate.ts): which prompts hold an adapter's word (the shared cases of
// tests/fixtures/word_gate_cases.json, also run by training/tests/test_word_gate.py; and the real tokenizer with the
// word agrees), the request check of `adapterEveryPrompt`, and, on the e2e tiny models in Node on Dawn, the routing of
// a generation request (src/worker/generation/service.ts requestPipeline through the worker's FineTuneService): a
// control prompt through a loaded adapter (LoRA factors and a learned word row) is drawn bit for bit as without the
// adapter, and differently when the adapter is forced on ("Apply to every prompt").
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoraAdapter, LoraConfig, MMambaConfig } from '../src/finetune/api';
import { initAdapter } from '../src/finetune/lora';
import { newWordId, tokenizerWithWord } from '../src/finetune/word';
import { adapterApplies, containsWord } from '../src/finetune/word_gate';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';
import { TextToImage } from '../src/model/pipeline';
import { AdapterStore } from '../src/worker/finetune/adapter_store';
import { fineTunePort } from '../src/worker/finetune/port';
import { FineTuneService } from '../src/worker/finetune/service';
import { checkGenerateRequest, InvalidGenerateRequestError } from '../src/worker/generation/requests';
import { requestPipeline } from '../src/worker/generation/service';
import { getEngine } from './gpu';
import { memoryKv } from './memory_kv';
import { loadModelDir } from './model_dirs';

interface GateCase {
  text: string;
  word: string;
  contains: boolean;
}
const CASES = (
  JSON.parse(readFileSync(resolve(__dirname, 'fixtures', 'word_gate_cases.json'), 'utf8')) as { cases: GateCase[] }
).cases;

const E2E = resolve(__dirname, '..', 'e2e', 'fixtures', 'models');
const gen = loadModelDir(`${E2E}/mmamba-e2e`);
const vq = loadModelDir(`${E2E}/vq-e2e`);
const cfg = gen.manifest.config as unknown as MMambaConfig;
const spec = gen.manifest.tokenizer as unknown as TokenizerSpec;
const LORA: LoraConfig = { rank: 2, alpha: 2, targets: ['in_proj', 'out_proj', 'head', 'text'] };

/** An adapter that visibly changes the drawing (B factors not zero) and carries a learned row for `word`. */
function adapter(word: string | undefined): LoraAdapter {
  const a = initAdapter({ modelId: 'mmamba-e2e', config: cfg }, LORA, 1);
  for (const p of a.pairs.values())
    p.B.data.forEach((_, i, d) => {
      d[i] = Math.sin(i + 1) * 2;
    });
  if (!word) return a;
  const embedding = Float32Array.from({ length: cfg.text.width }, (_, i) => Math.cos(i) * 0.5);
  return { ...a, info: { ...a.info, word }, wordEmbedding: embedding };
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

describe('word gate: which prompts hold the word', () => {
  it('the shared cases (case and punctuation aside; a plural is another word)', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
    for (const c of CASES) expect(containsWord(c.text, c.word), JSON.stringify(c)).toBe(c.contains);
  });

  it("agrees with the tokenizer that learns the word: a text holds the word iff it encodes to the word's id", () => {
    const id = newWordId(spec);
    for (const c of CASES.filter((x) => /^[a-z0-9]+$/i.test(x.word))) {
      const tok = new BPETokenizer(tokenizerWithWord(spec, c.word), 4096);
      expect(tok.tokenize(c.text).includes(id), JSON.stringify(c)).toBe(c.contains);
    }
  });

  it('applies with the word in the prompt or the negative prompt, always when forced or when it names no word', () => {
    expect(adapterApplies('zorblat', ['red apple', undefined])).toBe(false);
    expect(adapterApplies('zorblat', ['A Zorblat!', undefined])).toBe(true);
    expect(adapterApplies('zorblat', ['red apple', 'no zorblat'])).toBe(true);
    expect(adapterApplies('zorblat', ['red apple'], true)).toBe(true);
    expect(adapterApplies(undefined, ['red apple'])).toBe(true);
    expect(adapterApplies('', ['red apple'])).toBe(true);
  });

  it('the request check: adapterEveryPrompt is true or false, and only with an adapter', () => {
    const req = { prompt: 'x', seed: 1, adapter: 'zorblat' };
    expect(checkGenerateRequest({ ...req, adapterEveryPrompt: true }).adapterEveryPrompt).toBe(true);
    expect(checkGenerateRequest({ ...req, adapterEveryPrompt: false }).adapterEveryPrompt).toBe(false);
    expect(checkGenerateRequest(req).adapterEveryPrompt).toBeUndefined();
    expect(checkGenerateRequest({ prompt: 'x', seed: 1, adapterEveryPrompt: true }).adapterEveryPrompt).toBeUndefined();
    for (const bad of ['yes', 1, null, {}])
      expect(() => checkGenerateRequest({ ...req, adapterEveryPrompt: bad }), String(bad)).toThrow(
        /adapterEveryPrompt is .*; it must be true \(apply the adapter to every prompt\) or false/,
      );
    expect(() => checkGenerateRequest({ ...req, adapterEveryPrompt: 'yes' })).toThrow(InvalidGenerateRequestError);
  });
});

describe('word gate: generation through a loaded adapter', () => {
  it('a control prompt is drawn bit for bit as the base draws it; forced on, it differs', async () => {
    const e = await getEngine();
    const port = await fineTunePort();
    const seed = Math.floor(Math.random() * 1_000_000);
    console.log(`word gate generation seed ${seed}`);
    const w = service();
    await w.importAdapter(port.serializeAdapter(adapter('zorblat')), 'zorblat');
    await w.importAdapter(port.serializeAdapter(adapter(undefined)), 'no-word');
    const base = TextToImage.create(e, gen, vq); // the generation service's own pipeline of the loaded model
    const draw = async (p: { generate: TextToImage['generate'] }, prompt: string) => {
      const r = await p.generate({ prompt, seed, steps: 2, guidance: 2 });
      return { tokens: Array.from(r.tokens), pixels: Array.from(r.pixels) };
    };
    const plain = await draw(base, 'red apple');

    const gated = await requestPipeline(w, base, { adapter: 'zorblat' }, ['red apple', undefined]);
    expect(gated).toBe(base);
    const again = TextToImage.create(e, gen, vq); // a fresh base pipeline: the same bits, not just the same object
    expect(await draw(again, 'red apple')).toEqual(plain);
    again.dispose();

    const forced = await requestPipeline(w, base, { adapter: 'zorblat', adapterEveryPrompt: true }, ['red apple']);
    expect(forced).not.toBe(base);
    expect(forced).toBe(await w.pipelineFor('zorblat'));
    const leak = await draw(forced, 'red apple');
    expect(leak.tokens).not.toEqual(plain.tokens);

    // with the word (any case, punctuation, or only in the negative prompt) the adapter applies
    for (const prompts of [['A Zorblat!'], ["a zorblat's hat"], ['red apple', 'zorblat']])
      expect(await requestPipeline(w, base, { adapter: 'zorblat' }, prompts), prompts.join('|')).toBe(
        await w.pipelineFor('zorblat'),
      );
    expect(await requestPipeline(w, base, { adapter: 'zorblat' }, ['zorblats'])).toBe(base);
    // an adapter that names no word cannot be gated: it applies to every prompt
    expect(await requestPipeline(w, base, { adapter: 'no-word' }, ['red apple'])).not.toBe(base);
    await expect(requestPipeline(w, base, { adapter: 'missing' }, ['red apple'])).rejects.toThrow(/no adapter named/);
    w.dropGpu();
    base.dispose();
  }, 600_000);
});
