// Fine-tuning with the larger text vocabulary of a word prior (src/finetune/text_autodiff.ts): the text embedding's
// gradient is a (vocab_size, w) table, so it is computed only when `text.tok_emb.weight` is asked for — LoRA never
// adapts it (src/finetune/lora.ts), so a LoRA step on the text blocks must not run the embedding backward at all.
// The model is tests/fixtures/text_prior_tiny with its embedding table grown to 60,000 rows (the extra rows are never
// gathered, so the loss is the small model's); with the gradient asked for, it is the small one's padded with zeros.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Engine } from '../src/engine/engine';
import { MMambaAutodiff, type MaskedBatch } from '../src/finetune/mmamba_autodiff';
import { loraParamNames } from '../src/finetune/lora';
import type { MMambaConfig } from '../src/model/common';
import { loadWeights, type Manifest, type WeightMap } from '../src/model/weights';
import { getEngine } from './gpu';
import { readSafetensors } from './golden_io';

const calls: number[] = []; // V of every embeddingBackward call
vi.mock('../src/engine/ops/embedding_backward', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../src/engine/ops/embedding_backward')>();
  return {
    ...orig,
    embeddingBackward: (
      e: Engine,
      ids: Parameters<typeof orig.embeddingBackward>[1],
      dy: Parameters<typeof orig.embeddingBackward>[2],
      V: number,
    ) => {
      calls.push(V);
      return orig.embeddingBackward(e, ids, dy, V);
    },
  };
});

const BIG = 60_000;
const DIR = resolve(__dirname, 'fixtures/text_prior_tiny');
const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as Manifest;
const b = readFileSync(`${DIR}/model-00000.safetensors`);
const small = loadWeights(manifest, [b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer]);
const A = readSafetensors(`${DIR}/arrays.safetensors`);
const cfg = manifest.config as unknown as MMambaConfig;
const w = cfg.text.width;
const V = cfg.text.vocab_size;

function grown(): { cfg: MMambaConfig; weights: WeightMap } {
  const weights: WeightMap = new Map(small);
  const t = new Float32Array(BIG * w);
  t.set(small.get('text.tok_emb.weight')!.data);
  for (let i = V * w; i < t.length; i++) t[i] = ((i * 2654435761) % 1000) / 1e4 - 0.05; // fixed filler, never gathered
  weights.set('text.tok_emb.weight', { shape: [BIG, w], data: t });
  return { cfg: { ...cfg, text: { ...cfg.text, vocab_size: BIG } }, weights };
}

function batch(): MaskedBatch {
  const ids = A.get('input.text_ids')!;
  const img = Uint32Array.from(A.get('input.img_tokens')!.data);
  const HW = cfg.grid * cfg.grid;
  const targets = Uint32Array.from(img, (v, i) => (v === cfg.codebook_size ? (i * 7) % cfg.codebook_size : v));
  const mask = Uint32Array.from({ length: img.length }, (_, i) =>
    i % 3 === 0 || img[i] === cfg.codebook_size ? 1 : 0,
  );
  return {
    batch: ids.shape[0]!,
    textIds: ids.data,
    imgTokens: Uint32Array.from(img, (v, i) => (mask[i] ? cfg.codebook_size : v)),
    targets,
    mask: mask.subarray(0, ids.shape[0]! * HW),
  };
}

describe('text fine-tuning with a large (word prior) vocabulary', () => {
  it('a LoRA step on the text blocks skips the embedding gradient; asked for, it is the small model’s padded with zeros', async () => {
    const e = await getEngine();
    const big = grown();
    const inp = batch();
    const loraNames = loraParamNames(big.cfg, ['text_layers']);
    expect(loraNames).not.toContain('text.tok_emb.weight');

    calls.length = 0;
    const mBig = new MMambaAutodiff(e, big.cfg, big.weights);
    const r1 = mBig.forwardBackward(inp, new Set(loraNames));
    expect(calls).toEqual([]); // no (vocab_size, w) table was built
    expect(r1.grads.has('text.tok_emb.weight')).toBe(false);
    for (const n of loraNames) expect(r1.grads.has(n)).toBe(true);
    const lossBig = (await e.readF32(r1.loss))[0]!;

    const want = new Set([...loraNames, 'text.tok_emb.weight']);
    const r2 = mBig.forwardBackward(inp, want);
    expect(calls).toEqual([BIG]);
    const gBig = await e.readF32(r2.grads.get('text.tok_emb.weight')!);
    expect(gBig.length).toBe(BIG * w);
    const mSmall = new MMambaAutodiff(e, cfg, small);
    const r3 = mSmall.forwardBackward(inp, want);
    const gSmall = await e.readF32(r3.grads.get('text.tok_emb.weight')!);
    expect((await e.readF32(r3.loss))[0]).toBeCloseTo(lossBig, 6);
    expect(Array.from(gBig.subarray(0, V * w))).toEqual(Array.from(gSmall));
    expect(gBig.subarray(V * w).every((v) => v === 0)).toBe(true);
    expect(gSmall.some((v) => v !== 0)).toBe(true);
    for (const r of [r1, r2, r3]) {
      for (const t of r.grads.values()) t.dispose();
      r.loss.dispose();
    }
    mBig.dispose();
    mSmall.dispose();
  });
});
