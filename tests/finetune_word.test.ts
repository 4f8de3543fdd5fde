// Textual inversion (src/finetune/word.ts, inversion.ts) on the e2e tiny models, in Node on Dawn: the new word is one
// new id whatever its case or punctuation while every other text keeps its ids; after the inversion phase alone a
// control prompt's logits equal the base model's exactly (only the word's row learned) while the word's own prompt
// changed; the generation pipeline with the word draws control prompts token for token as the base does.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MMambaConfig } from '../src/finetune/api';
import { WordInversion } from '../src/finetune/inversion';
import { maskForTraining } from '../src/finetune/masking';
import { MMambaAutodiff } from '../src/finetune/mmamba_autodiff';
import { modelWithWord, newWordId, tokenizerWithWord } from '../src/finetune/word';
import { BPETokenizer, wordBoundarySpec, type TokenizerSpec } from '../src/model/bpe';
import { TextToImage } from '../src/model/pipeline';
import { loadWeights, type Manifest } from '../src/model/weights';
import { getEngine } from './gpu';

const DIR = resolve(__dirname, '..', 'e2e', 'fixtures', 'models');
function load(id: string) {
  const manifest = JSON.parse(readFileSync(`${DIR}/${id}/manifest.json`, 'utf8')) as Manifest;
  const shards = manifest.shards.map((s) => {
    const b = readFileSync(`${DIR}/${id}/${s.file}`);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  });
  return { manifest, weights: loadWeights(manifest, shards) };
}

describe('textual inversion: a new word of its own', () => {
  const gen = load('mmamba-e2e');
  const cfg = gen.manifest.config as unknown as MMambaConfig;
  const spec = gen.manifest.tokenizer as unknown as TokenizerSpec;

  it('the word is one new id in any case or punctuation; other texts keep their ids', () => {
    const base = new BPETokenizer(wordBoundarySpec(spec), cfg.text.max_len);
    const withWord = new BPETokenizer(tokenizerWithWord(spec, 'zorblat'), cfg.text.max_len);
    const id = newWordId(spec);
    expect(id).toBe(base.vocabSize);
    for (const t of ['a zorblat', 'Zorblat,', 'ZORBLAT!', 'zorblat, flat emoji'])
      expect(Array.from(withWord.encode(t)).filter((x) => x === id).length, t).toBe(1);
    for (const t of ['red apple', 'a zorblats', 'zor blat', 'cat face, outline icon', ''])
      expect(Array.from(withWord.encode(t)), t).toEqual(Array.from(base.encode(t)));
    expect(() => tokenizerWithWord(spec, 'two words')).toThrow(/new word/);
  });

  it("after the inversion phase alone, a control prompt's logits equal the base's exactly; the word's changed", async () => {
    const e = await getEngine();
    const tok = new BPETokenizer(tokenizerWithWord(spec, 'zorblat'), cfg.text.max_len);
    const B = 4;
    const hw = cfg.grid * cfg.grid;
    const Lt = cfg.text.max_len;
    const ids = (text: string) => new Int32Array(B * Lt).map((_, i) => tok.encode(text)[i % Lt]!);
    const tokens = new Int32Array(B * hw).map((_, i) => (i * 7) % cfg.codebook_size);
    const inv = new WordInversion(
      e,
      { ref: { modelId: 'mmamba-e2e', config: cfg }, weights: gen.weights },
      spec,
      'Zorblat',
      { batchSize: B, lr: 0.05, totalSteps: 4, warmupSteps: 0, seed: 3 },
    );
    const wordBatch = { tokens, textIds: ids('a zorblat') };
    const controlBatch = { tokens, textIds: ids('red apple') };
    const before = await inv.logits(wordBatch);
    const row0 = await inv.embedding();
    const losses: number[] = [];
    for (let s = 0; s < 4; s++) {
      const r = await inv.step(wordBatch);
      expect(r.applied).toBe(true);
      losses.push(r.loss);
    }
    console.log(`inversion losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
    const row = await inv.embedding();
    expect(Array.from(row)).not.toEqual(Array.from(row0));
    const after = await inv.logits(wordBatch);
    expect(Array.from(after)).not.toEqual(Array.from(before));
    const control = await inv.logits(controlBatch);
    inv.dispose();

    // the base model (no new row) on the same control batch and mask
    const m = maskForTraining(tokens, B, hw, cfg.codebook_size, 3, 0);
    const model = new MMambaAutodiff(e, cfg, gen.weights);
    const r = model.evaluate({
      batch: B,
      textIds: controlBatch.textIds,
      imgTokens: m.imgTokens,
      targets: Uint32Array.from(tokens),
      mask: m.mask,
    });
    const baseLogits = (await e.readF32(r.logits)).slice();
    r.loss.dispose();
    r.logits.dispose();
    model.dispose();
    expect(control.length).toBe(baseLogits.length);
    let diff = 0;
    for (let i = 0; i < control.length; i++) if (control[i] !== baseLogits[i]) diff++;
    expect(diff, 'control logits that differ from the base').toBe(0);

    // generation with the word: control prompts draw the same tokens as the base, the word's prompt runs
    const vq = load('vq-e2e');
    const withWord = modelWithWord(
      { manifest: gen.manifest, weights: gen.weights },
      { word: 'zorblat', embedding: row },
    );
    const t2iBase = TextToImage.create(
      e,
      { manifest: { ...gen.manifest, tokenizer: wordBoundarySpec(spec) } as unknown as Manifest, weights: gen.weights },
      vq,
    );
    const t2iWord = TextToImage.create(e, withWord, vq);
    for (const prompt of ['red apple', 'house']) {
      const a = await t2iBase.generate({ prompt, seed: 4, steps: 2, guidance: 3 });
      const b = await t2iWord.generate({ prompt, seed: 4, steps: 2, guidance: 3 });
      expect(Array.from(b.tokens), prompt).toEqual(Array.from(a.tokens));
    }
    const w = await t2iWord.generate({ prompt: 'a Zorblat', seed: 4, steps: 2, guidance: 3 });
    expect(w.tokens.length).toBe(hw);
    t2iBase.dispose();
    t2iWord.dispose();
  }, 600_000);
});
