// The teach-a-word flow's model-side pieces on the shipped v2-line generators, the default M-Mamba M (d 512) and
// M-Mamba v2 (d 256): tokenizer v2 with 26,569 known words after 765 merges, a 27,593-row text table with the word
// prior baked in, the lite block with the GEGLU FFN; checked on the CPU from its manifest and weights: the new word gets the first id past the table (its row
// appended), is one id in any case or punctuation while the control prompts keep their ids; its starting row is a
// finite mean; textual inversion's plan (the 'text' targets on the table with the word) and the page's LoRA (the
// default targets: every layer's mixer in/out projections and adaLN, the head, the text encoder) are accepted at the
// default batch without micro-batching. (The FFN's own weights get no LoRA pair; the gradients pass through them.)
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MMambaConfig } from '../src/finetune/api';
import {
  ADAPT_TARGETS,
  DEFAULT_FINETUNE_OPTIONS,
  DEFAULT_LORA_CONFIG,
  DRIFT_CONTROL_PROMPTS,
} from '../src/finetune/defaults';
import { checkLoraConfig, loraParamNames } from '../src/finetune/lora';
import { largestMicroBatch, planMemory } from '../src/finetune/memory';
import {
  configWithWord,
  initialWordVector,
  newWordId,
  TEXT_TABLE,
  tokenizerWithWord,
  weightsWithWord,
} from '../src/finetune/word';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';
import type { Manifest } from '../src/model/weights';
import { loadModelDir } from './model_dirs';

const B = DEFAULT_FINETUNE_OPTIONS.batchSize;

describe.each(['mmamba-m', 'mmamba-v2'])('teaching a word to %s', (modelId) => {
  const DIR = resolve(__dirname, '../public/models', modelId);
  const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as Manifest;
  const cfg = manifest.config as unknown as MMambaConfig;
  const spec = manifest.tokenizer as unknown as TokenizerSpec;

  it('the word is one new id past the table, whatever its case or punctuation; controls keep their ids', () => {
    expect(cfg.ffn).toBe(true);
    const id = newWordId(spec);
    expect(id).toBe(cfg.text.vocab_size); // the row is appended
    const base = new BPETokenizer(spec, cfg.text.max_len);
    const withWord = new BPETokenizer(tokenizerWithWord(spec, 'zorblat'), cfg.text.max_len);
    for (const t of ['a zorblat', 'Zorblat,', 'ZORBLAT!', 'zorblat, flat emoji', 'a zorblat, outline icon'])
      expect(Array.from(withWord.encode(t)).filter((x) => x === id).length, t).toBe(1);
    for (const t of [...DRIFT_CONTROL_PROMPTS, 'a zorblats', ''])
      expect(Array.from(withWord.encode(t)), t).toEqual(Array.from(base.encode(t)));
    expect(() => tokenizerWithWord(spec, 'apple')).toThrow(/already a word/);
  });

  it("the word's starting row is a finite mean of the table; the table with the word has one more row", () => {
    const { weights } = loadModelDir(DIR);
    const id = newWordId(spec);
    const v = initialWordVector(weights, spec);
    expect(v.length).toBe(cfg.text.width);
    const norm = Math.hypot(...v);
    expect(Number.isFinite(norm) && norm > 0).toBe(true);
    const w = weightsWithWord(weights, id, v);
    expect(w.get(TEXT_TABLE)!.shape).toEqual([cfg.text.vocab_size + 1, cfg.text.width]);
    expect(configWithWord(cfg, id).text.vocab_size).toBe(cfg.text.vocab_size + 1);
  });

  it("inversion's and the page's LoRA plans are accepted at the default batch without micro-batching", () => {
    const c = configWithWord(cfg, newWordId(spec));
    // as WordInversion sizes its micro-batch
    expect(largestMicroBatch(c, { rank: 1, alpha: 1, targets: ['text'] }, B)).toBe(B);
    checkLoraConfig(c, DEFAULT_LORA_CONFIG);
    expect(planMemory(c, DEFAULT_LORA_CONFIG, B).fitsDefaultLimits).toBe(true);
    const names = new Set(loraParamNames(c, ADAPT_TARGETS.all));
    for (let i = 0; i < cfg.layers; i++)
      for (const p of ['in_proj.weight', 'out_proj.weight', 'mod.proj.weight'])
        expect(names.has(`layers.${i}.${p}`), `layers.${i}.${p}`).toBe(true);
    for (const n of ['head.weight', 'text.proj.weight', 'text.layers.0.attn.qkv.weight'])
      expect(names.has(n), n).toBe(true);
  });
});
