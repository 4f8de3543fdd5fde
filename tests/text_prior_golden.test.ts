// A text encoder trained with a frozen word prior, exported as its effective table (training/mmamba/export.py
// bake_prior), on the engine against the PyTorch prior model stage by stage (tests/fixtures/text_prior_tiny, written
// by training/make_text_prior_fixture.py): the v2 tokenizer of the manifest gives the fixture's ids; embedding,
// each text block, final LayerNorm, pooled mean, text tokens, c, and the generator's logits all match.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WeightIntegrityError } from '../src/engine/errors';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';
import type { MMambaConfig } from '../src/model/common';
import { MMamba } from '../src/model/mmamba';
import { TextEncoder } from '../src/model/text_encoder';
import { loadWeights, type Manifest } from '../src/model/weights';
import { expectClose, getEngine, normalisedError } from './gpu';
import { readSafetensors } from './golden_io';

const TOL = 1e-4; // tests/fixtures/README.md: forward stages, f32
const DIR = resolve(__dirname, 'fixtures/text_prior_tiny');
const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as Manifest;
const fixture = JSON.parse(readFileSync(`${DIR}/fixture.json`, 'utf8')) as {
  prompts: string[];
  prior_config: { prior_words: number };
};
const b = readFileSync(`${DIR}/model-00000.safetensors`);
const weights = loadWeights(manifest, [b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer]);
const arrays = readSafetensors(`${DIR}/arrays.safetensors`);
const A = (n: string) => arrays.get(n)!;
const cfg = manifest.config as unknown as MMambaConfig;

describe('text encoder with a word prior (effective table) vs PyTorch', () => {
  it('the manifest is a plain table with a v2 tokenizer whose words are its last rows', () => {
    const spec = manifest.tokenizer as unknown as TokenizerSpec;
    const tok = new BPETokenizer(spec, cfg.text.max_len);
    expect(tok.version).toBe(2);
    expect(spec.words!.length).toBe(fixture.prior_config.prior_words);
    expect(tok.vocabSize).toBe(cfg.text.vocab_size);
    expect(manifest.tensors['text.tok_emb.weight']!.shape).toEqual([cfg.text.vocab_size, cfg.text.width]);
    const ids = A('input.text_ids');
    expect(Array.from(ids.data).some((v) => v >= tok.wordOffset)).toBe(true);
    const got: number[] = [];
    for (const p of fixture.prompts) got.push(...tok.encode(p));
    expect(got).toEqual(Array.from(ids.data));
  });

  it('refuses a manifest whose text config still names an unbaked prior', async () => {
    const e = await getEngine();
    const unbaked = { ...cfg.text, prior_words: 24, prior_dim: 8 };
    expect(() => new TextEncoder(e, unbaked, cfg.d, cfg.cond_dim, weights)).toThrow(WeightIntegrityError);
  });

  it('stages: text_embed, text_layer{i}, text_final, text_pooled, text_tokens, c, logits', async () => {
    const e = await getEngine();
    const ids = A('input.text_ids');
    const B = ids.shape[0]!;
    const errs: string[] = [];
    const check = async (stage: string, t: { dispose(): void }, data: Float32Array) => {
      const want = A(`stage.${stage}`).data;
      errs.push(`${stage} ${normalisedError(data, want).toExponential(2)}`);
      expectClose(data, want, TOL, `stage.${stage}`);
      t.dispose();
    };
    const text = new TextEncoder(e, cfg.text, cfg.d, cfg.cond_dim, weights);
    const inputs: Parameters<TextEncoder['trunk']>[2] = { layerInputs: [] };
    const tr = text.trunk(ids.data, B, inputs);
    const li = inputs.layerInputs!;
    expect(li.length).toBe(cfg.text.layers + 1);
    await check('text_embed', li[0]!, await e.readF32(li[0]!));
    for (let i = 0; i < cfg.text.layers; i++) await check(`text_layer${i}`, li[i + 1]!, await e.readF32(li[i + 1]!));
    await check('text_final', tr.final, await e.readF32(tr.final));
    await check('text_pooled', tr.pooled, await e.readF32(tr.pooled));
    tr.keyMask.dispose();
    text.dispose();

    const model = new MMamba(e, cfg, weights);
    const cond = model.encodeText(ids.data, B);
    await check('text_tokens', { dispose() {} }, await e.readF32(cond.tokens));
    await check('c', { dispose() {} }, await e.readF32(cond.c));
    const img = e.fromArray(A('input.img_tokens').shape, Uint32Array.from(A('input.img_tokens').data), 'u32');
    const logits = model.logits(img, cond);
    await check('logits', logits, await e.readF32(logits));
    console.log('text_prior_tiny normalised errors:', errs.join(', '));
    img.dispose();
    cond.dispose();
    model.dispose();
  });
});
