// Fine-tuning inside WebGPU's default limits: the memory plan of the shipped mmamba-s (d 256, 8 layers, L 272) at
// batch 4–8 keeps every binding under 128 MiB and micro-batches larger batches; the default generator mmamba-m and
// mmamba-v2 (lite block with the GEGLU FFN, 27,593-row text table; d 512 and 256) are accepted with every choice of
// targets at the page's default batch, their plans counting the FFN; a tiny-model step runs on a device with default limits; and micro-batching gives
// the same step (loss, gradient norm, updated factors).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireDevice } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import type { MMambaConfig } from '../src/model/common';
import { loadWeights, type Manifest } from '../src/model/weights';
import { DEFAULT_MAX_BINDING_BYTES } from '../src/finetune/api';
import { ADAPT_TARGETS, DEFAULT_FINETUNE_OPTIONS, DEFAULT_LORA_CONFIG } from '../src/finetune/defaults';
import { loraParamNames } from '../src/finetune/lora';
import { largestMicroBatch, planMemory } from '../src/finetune/memory';
import { FineTuner } from '../src/finetune/trainer';
import { dawnInstance, expectClose, getEngine, randInt } from './gpu';
import { loadModelDir } from './model_dirs';

const shipped = JSON.parse(readFileSync(resolve(__dirname, '../public/models/mmamba-s/manifest.json'), 'utf8'))
  .config as MMambaConfig;
const DIR = resolve(__dirname, 'fixtures/mmamba_tiny');
const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as Manifest;
const shard = readFileSync(`${DIR}/model-00000.safetensors`);
const weights = loadWeights(manifest, [
  shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength) as ArrayBuffer,
]);
const cfg = manifest.config as unknown as MMambaConfig;
const HW = cfg.grid * cfg.grid;
const batch = {
  tokens: Int32Array.from(randInt(4 * HW, 21, cfg.codebook_size)),
  textIds: Int32Array.from(randInt(4 * cfg.text.max_len, 22, 40)),
};

describe('fine-tuning memory', () => {
  it('shipped mmamba-s: batch 4 and 8 fit the default binding limit; 16 is micro-batched', () => {
    for (const B of [4, 8]) {
      const p = planMemory(shipped, DEFAULT_LORA_CONFIG, B);
      console.log(
        `mmamba-s batch ${B}: largest binding ${(p.largestBindingBytes / 2 ** 20).toFixed(1)} MiB, est. peak ${(p.estimatedPeakBytes / 2 ** 20).toFixed(0)} MiB`,
      );
      expect(p.fitsDefaultLimits).toBe(true);
      expect(p.largestBindingBytes).toBeLessThanOrEqual(DEFAULT_MAX_BINDING_BYTES);
    }
    expect(planMemory(shipped, DEFAULT_LORA_CONFIG, 16).fitsDefaultLimits).toBe(false);
    const m = largestMicroBatch(shipped, DEFAULT_LORA_CONFIG, 16);
    expect(m).toBeGreaterThanOrEqual(8);
    expect(m).toBeLessThan(16);
  });

  // the default (index.json's defaultGenerator, mmamba-m at d 512) and the v2 generator beside it
  it.each(['mmamba-m', 'mmamba-v2'])(
    'shipped %s: every choice of targets is accepted at the default batch, FFN counted',
    async (id) => {
      const dir = resolve(__dirname, '../public/models', id);
      const man = JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8')) as Manifest;
      const mcfg = man.config as unknown as MMambaConfig;
      expect(mcfg.ffn).toBe(true);
      const B = DEFAULT_FINETUNE_OPTIONS.batchSize;
      const plan = planMemory(mcfg, DEFAULT_LORA_CONFIG, B);
      console.log(
        `${id} batch ${B}: largest binding ${(plan.largestBindingBytes / 2 ** 20).toFixed(1)} MiB, est. peak ${(plan.estimatedPeakBytes / 2 ** 20).toFixed(0)} MiB`,
      );
      expect(plan.fitsDefaultLimits).toBe(true);
      // the FFN's GEGLU input (B, L, 2·ffn_mult·d) is among the bindings the plan weighs
      const L = mcfg.text.max_len + mcfg.grid * mcfg.grid;
      expect(plan.largestBindingBytes).toBeGreaterThanOrEqual(B * L * 2 * mcfg.ffn_mult * mcfg.d * 4);
      const noFfn = planMemory({ ...mcfg, ffn: false }, DEFAULT_LORA_CONFIG, B);
      expect(plan.estimatedPeakBytes).toBeGreaterThan(noFfn.estimatedPeakBytes);

      const w = loadModelDir(dir).weights;
      const e = await getEngine();
      for (const targets of Object.values(ADAPT_TARGETS)) {
        const lora = { ...DEFAULT_LORA_CONFIG, targets: [...targets] };
        const ft = new FineTuner(e, { ref: { modelId: id, config: mcfg }, weights: w }, lora, { batchSize: B });
        try {
          expect(ft.microBatch, targets.join()).toBe(B);
          const names = loraParamNames(mcfg, lora.targets);
          const a = await ft.getAdapter();
          expect([...a.pairs.keys()].sort()).toEqual([...names].sort());
          if (lora.targets.includes('in_proj')) expect(names).toContain(`layers.${mcfg.layers - 1}.in_proj.weight`);
        } finally {
          ft.dispose();
        }
      }
    },
  );

  it('a tiny-model step runs on a device with default limits, and micro-batching gives the same step', async () => {
    await getEngine();
    const ctx = await acquireDevice(dawnInstance!, { defaultLimitsOnly: true, label: 'default-limits-finetune' });
    const e = new Engine(ctx);
    const lora = { rank: 2, alpha: 2, targets: ['in_proj', 'out_proj', 'x_proj', 'head'] as const };
    const opts = { batchSize: 4, lr: 1e-2, seed: 8, textDropout: 0.5 };
    try {
      const results = [];
      for (const maxMicroBatch of [4, 3]) {
        const ft = new FineTuner(
          e,
          { ref: { modelId: 'tiny', config: cfg }, weights },
          { ...lora, targets: [...lora.targets] },
          { ...opts, maxMicroBatch },
        );
        expect(ft.microBatch).toBe(maxMicroBatch);
        await ft.step(batch); // B = 0 at first: a second step moves every factor
        const r = await e.checked(() => ft.step(batch));
        results.push({ r, a: await ft.getAdapter() });
        ft.dispose();
      }
      const [one, split] = results;
      expect(one!.r.applied && split!.r.applied).toBe(true);
      expect(Math.abs(one!.r.loss - split!.r.loss)).toBeLessThan(1e-5 * one!.r.loss);
      expect(Math.abs(one!.r.gradNorm - split!.r.gradNorm)).toBeLessThan(1e-4 * one!.r.gradNorm);
      for (const [k, p] of one!.a.pairs)
        expectClose(split!.a.pairs.get(k)!.B.data, p.B.data, 1e-4, `${k}.B after 2 steps`);
    } finally {
      e.dispose();
      ctx.device.destroy();
    }
  });
});
