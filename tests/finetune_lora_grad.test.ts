// LoRA factor gradients against PyTorch autograd (tests/fixtures/lora_tiny and lora_ffn_tiny, written by
// training/make_lora_fixtures.py): a tiny golden model with W + (alpha/rank)·B·A on every target kind (in_proj,
// out_proj, per-direction x_proj / dt_proj, adaLN mod, head, text projections, text blocks), its inputs and mask; the
// loss and d loss / dA, dB through the fine-tuner's own path (lora_grad.ts effectiveWeights → mmamba_autodiff →
// factorGradients).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../src/engine/tensor';
import type { MMambaConfig } from '../src/model/common';
import { loadWeights, type Manifest } from '../src/model/weights';
import { effectiveWeights, factorGradients } from '../src/finetune/lora_grad';
import { MMambaAutodiff } from '../src/finetune/mmamba_autodiff';
import { expectClose, getEngine, normalisedError } from './gpu';
import { f32, fixtureBatch, readSafetensors } from './golden_io';

const TOL = 1e-3; // tests/fixtures/README.md gradient tolerance; measured errors are printed
// base fixture → its LoRA fixture; lora_ffn_tiny adapts the same targets on the slim layer (expand 1, d_state 1, FFN)
const CASES: Array<[string, string]> = [
  ['mmamba_tiny', 'lora_tiny'],
  ['mmamba_ffn_tiny', 'lora_ffn_tiny'],
];

describe('LoRA gradients vs PyTorch (lora_tiny, lora_ffn_tiny)', () => {
  for (const [baseName, loraName] of CASES)
    it(`${loraName}: loss, dA and dB of every adapted weight`, async () => {
      const BASE = resolve(__dirname, `fixtures/${baseName}`);
      const LORA = resolve(__dirname, `fixtures/${loraName}`);
      const e = await getEngine();
      const manifest = JSON.parse(readFileSync(`${BASE}/manifest.json`, 'utf8')) as Manifest;
      const b = readFileSync(`${BASE}/model-00000.safetensors`);
      const weights = loadWeights(manifest, [b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer]);
      const cfg = manifest.config as unknown as MMambaConfig;
      const inp = readSafetensors(`${BASE}/arrays.safetensors`);
      const fx = JSON.parse(readFileSync(`${LORA}/fixture.json`, 'utf8')) as {
        rank: number;
        alpha: number;
        params: string[];
        loss: number;
      };
      const L = readSafetensors(`${LORA}/arrays.safetensors`);
      const model = new MMambaAutodiff(e, cfg, weights);
      const up = (n: string): Tensor => e.fromArray(L.get(n)!.shape, f32(L, n));
      const factors = fx.params.map((name) => ({ name, A: up(`lora.${name}.A`), B: up(`lora.${name}.B`) }));
      const scale = fx.alpha / fx.rank;
      const overrides = effectiveWeights(e, (n) => model.baseWeight(n), factors, scale);
      const r = model.forwardBackward(fixtureBatch(inp), new Set(fx.params), overrides);
      const loss = (await e.readF32(r.loss))[0]!;
      expect(Math.abs(loss - fx.loss) / fx.loss).toBeLessThan(1e-5);
      const grads = factorGradients(e, r.grads, factors, scale);
      const report: string[] = [];
      for (const [j, f] of factors.entries()) {
        for (const which of ['A', 'B'] as const) {
          const got = await e.readF32(which === 'A' ? grads[j]!.dA : grads[j]!.dB);
          const want = f32(L, `grad.lora.${f.name}.${which}`);
          report.push(`${f.name}.${which} ${normalisedError(got, want).toExponential(1)}`);
          expectClose(got, want, TOL, `d ${f.name}.${which}`);
        }
      }
      console.log(`${loraName} normalised errors:`, report.join(', '));
      for (const g of grads) g.dA.dispose(), g.dB.dispose();
      for (const t of overrides.values()) t.dispose();
      for (const f of factors) f.A.dispose(), f.B.dispose();
      r.loss.dispose();
      model.dispose();
    });
});
