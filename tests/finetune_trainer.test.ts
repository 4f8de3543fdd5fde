// FineTuner (src/finetune/trainer.ts) on the tiny golden model: a few steps on a fixed batch lower the loss on a
// fixed mask, also with LoRA on the text encoder's blocks alone; the NaN guard refuses non-finite updates (lr =
// Infinity, poisoned base weights) and keeps the adapter; a merged adapter (mergeAdapter + the unchanged MMamba
// generator) gives the same logits as the LoRA forward.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MMambaConfig } from '../src/model/common';
import { MMamba } from '../src/model/mmamba';
import { loadWeights, type Manifest, type WeightMap } from '../src/model/weights';
import type { BaseModelRef, LoraAdapter, LoraConfig, TrainingBatch } from '../src/finetune/api';
import { InvalidBatchError, InvalidFineTuneOptionsError } from '../src/finetune/errors';
import { initAdapter, mergeAdapter } from '../src/finetune/lora';
import { maskForTraining } from '../src/finetune/masking';
import { FineTuner, learningRateAt } from '../src/finetune/trainer';
import { expectClose, getEngine, normalisedError, randInt } from './gpu';
import { readSafetensors } from './golden_io';

const DIR = resolve(__dirname, 'fixtures/mmamba_tiny');
const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as Manifest;
const shard = readFileSync(`${DIR}/model-00000.safetensors`);
const weights = loadWeights(manifest, [
  shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength) as ArrayBuffer,
]);
const cfg = manifest.config as unknown as MMambaConfig;
const ref: BaseModelRef = { modelId: manifest.modelId, config: cfg };
const HW = cfg.grid * cfg.grid;
const B = 4;

/** Four rows: the fixture's two captions twice, seeded random image tokens. */
function fixedBatch(): TrainingBatch {
  const ids = readSafetensors(`${DIR}/arrays.safetensors`).get('input.text_ids')!.data as Int32Array;
  return {
    tokens: Int32Array.from(randInt(B * HW, 11, cfg.codebook_size)),
    textIds: Int32Array.from([...ids, ...ids]),
  };
}

const LORA: LoraConfig = { rank: 4, alpha: 8, targets: ['in_proj', 'out_proj', 'head'] };

function sameAdapter(a: LoraAdapter, b: LoraAdapter): void {
  for (const [k, p] of a.pairs) {
    expectClose(b.pairs.get(k)!.A.data, p.A.data, 0, `${k}.A`);
    expectClose(b.pairs.get(k)!.B.data, p.B.data, 0, `${k}.B`);
  }
}

describe('FineTuner on mmamba_tiny', () => {
  it('learning-rate schedule: linear warmup, cosine to 10 %, or constant', () => {
    const o = { lr: 1, warmupSteps: 4, totalSteps: 14 };
    expect([0, 1, 3].map((s) => learningRateAt(o, s))).toEqual([0.25, 0.5, 1]);
    expect(learningRateAt(o, 4)).toBeCloseTo(1, 12);
    expect(learningRateAt(o, 9)).toBeCloseTo(0.55, 12);
    expect(learningRateAt(o, 14)).toBeCloseTo(0.1, 12);
    expect(learningRateAt({ ...o, schedule: 'constant' }, 9)).toBe(1);
  });

  it('a few steps on a fixed batch lower the loss (fixed evaluation mask)', async () => {
    const e = await getEngine();
    const live0 = e.pool.liveBytes;
    const ft = new FineTuner(e, { ref, weights }, LORA, {
      batchSize: B,
      lr: 3e-2,
      warmupSteps: 1,
      totalSteps: 6,
      gradClip: 1,
      weightDecay: 0,
      seed: 3,
      textDropout: 0,
    });
    const batch = fixedBatch();
    const before = await ft.evaluate(batch);
    const losses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await ft.step(batch);
      expect(r.applied).toBe(true);
      expect(r.nonFinite).toBeNull();
      expect(r.gradNorm).toBeGreaterThan(0);
      losses.push(r.loss);
    }
    const after = await ft.evaluate(batch);
    console.log(
      `fixed-mask loss ${before.loss.toFixed(4)} → ${after.loss.toFixed(4)}; step losses ${losses.map((l) => l.toFixed(3)).join(' ')}`,
    );
    expect(after.maskedTokens).toBe(before.maskedTokens);
    expect(after.loss).toBeLessThan(before.loss - 0.05);
    expect(ft.stepsDone).toBe(6);
    const a = await ft.getAdapter({ word: 'test' });
    expect(a.info.steps).toBe(6);
    expect(Math.max(...a.pairs.get('head.weight')!.B.data.map(Math.abs))).toBeGreaterThan(0);
    ft.dispose();
    expect(e.pool.liveBytes).toBe(live0); // every GPU buffer the trainer took is back
  });

  it('the text encoder alone (text_layers) learns: the loss falls and every text block factor moves', async () => {
    const e = await getEngine();
    const lora: LoraConfig = { rank: 4, alpha: 8, targets: ['text_layers'] };
    const ft = new FineTuner(e, { ref, weights }, lora, {
      batchSize: B,
      lr: 3e-2,
      warmupSteps: 1,
      totalSteps: 6,
      gradClip: 1,
      weightDecay: 0,
      seed: 5,
      textDropout: 0,
    });
    const batch = fixedBatch();
    const before = await ft.evaluate(batch);
    for (let i = 0; i < 6; i++) expect((await ft.step(batch)).applied).toBe(true);
    const after = await ft.evaluate(batch);
    console.log(`text_layers only: fixed-mask loss ${before.loss.toFixed(4)} → ${after.loss.toFixed(4)}`);
    expect(after.loss).toBeLessThan(before.loss - 0.01);
    const a = await ft.getAdapter();
    expect([...a.pairs.keys()].every((k) => k.startsWith('text.layers.'))).toBe(true);
    for (const [k, p] of a.pairs) expect(Math.max(...p.B.data.map(Math.abs)), k).toBeGreaterThan(0);
    ft.dispose();
  });

  it('NaN guard: lr = Infinity refuses the update and keeps the adapter', async () => {
    const e = await getEngine();
    const ft = new FineTuner(e, { ref, weights }, LORA, { batchSize: B, lr: Infinity, seed: 4 });
    const start = await ft.getAdapter();
    const r = await ft.step(fixedBatch());
    expect(r).toMatchObject({ applied: false, nonFinite: 'update' });
    expect(Number.isFinite(r.loss) && Number.isFinite(r.gradNorm)).toBe(true);
    expect(ft.stepsDone).toBe(0);
    sameAdapter(start, await ft.getAdapter());
    ft.dispose();
  });

  it('NaN guard: poisoned base weights give a non-finite loss, no update', async () => {
    const e = await getEngine();
    const poisoned: WeightMap = new Map(weights);
    const hb = weights.get('head.bias')!;
    const data = hb.data.slice();
    data[3] = Number.NaN;
    poisoned.set('head.bias', { shape: hb.shape, data });
    const ft = new FineTuner(e, { ref, weights: poisoned }, LORA, { batchSize: B, lr: 1e-2, seed: 5 });
    const start = await ft.getAdapter();
    const r = await ft.step(fixedBatch());
    expect(r).toMatchObject({ applied: false, nonFinite: 'loss' });
    sameAdapter(start, await ft.getAdapter());
    ft.dispose();
  });

  it('rejects bad options and batches with typed errors', async () => {
    const e = await getEngine();
    expect(() => new FineTuner(e, { ref, weights }, LORA, { batchSize: 2 })).toThrow(InvalidFineTuneOptionsError);
    expect(() => new FineTuner(e, { ref, weights }, { ...LORA, rank: 0 }, {})).toThrow(InvalidFineTuneOptionsError);
    // undefined = default
    new FineTuner(e, { ref, weights }, LORA, { batchSize: B, lr: undefined, seed: undefined }).dispose();
    const ft = new FineTuner(e, { ref, weights }, LORA, { batchSize: B });
    const b = fixedBatch();
    await expect(ft.step({ ...b, tokens: b.tokens.subarray(1) })).rejects.toThrow(InvalidBatchError);
    const bad = b.tokens.slice();
    bad[0] = cfg.codebook_size; // [MASK] is not a valid image token
    await expect(ft.step({ ...b, tokens: bad })).rejects.toThrow(/codebook/);
    ft.dispose();
  });

  it('mergeAdapter + the existing MMamba forward = the forward with the unmerged LoRA', async () => {
    const e = await getEngine();
    const lora: LoraConfig = {
      rank: 2,
      alpha: 6,
      targets: ['in_proj', 'out_proj', 'x_proj', 'dt_proj', 'mod', 'head', 'text', 'text_layers'],
    };
    const adapter = initAdapter(ref, lora, 9);
    for (const p of adapter.pairs.values())
      p.B.data.forEach((_, i, d) => {
        d[i] = 0.05 * Math.sin(7 * i + 1);
      });
    const ft = new FineTuner(e, { ref, weights }, lora, { batchSize: B, seed: 9 }, adapter);
    const batch = fixedBatch();
    const lo = await ft.evaluate(batch, { withLogits: true, maskStep: 2 });
    ft.dispose();
    const gen = new MMamba(e, cfg, mergeAdapter(weights, adapter));
    const m = maskForTraining(batch.tokens, B, HW, cfg.codebook_size, 9, 2);
    const cond = gen.encodeText(batch.textIds, B);
    const img = e.fromArray([B, HW], m.imgTokens, 'u32');
    const logits = gen.logits(img, cond);
    const merged = await e.readF32(logits);
    const plain = new MMamba(e, cfg, weights);
    const cond0 = plain.encodeText(batch.textIds, B);
    const base = await e.readF32(plain.logits(img, cond0));
    console.log(
      `merged vs LoRA logits ${normalisedError(merged, lo.logits!).toExponential(2)}; adapter moved logits by ${normalisedError(base, lo.logits!).toExponential(2)}`,
    );
    expect(normalisedError(base, lo.logits!)).toBeGreaterThan(1e-3); // the adapter really changes the output
    expectClose(merged, lo.logits!, 1e-5, 'merged-adapter logits');
    for (const t of [logits, img]) t.dispose();
    cond.dispose();
    cond0.dispose();
    gen.dispose();
    plain.dispose();
  });
});
