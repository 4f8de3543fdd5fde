// UViT on the engine (src/model/uvit.ts) against PyTorch stage by stage
// (tests/fixtures/uvit_tiny): text encoder output, pooled c, the embedded sequence, each layer, logits; then the
// seeded MaskGIT run (sample.tokens) through the sampler of src/model/sampler.ts, exact.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'vitest';
import type { Tensor } from '../src/engine/tensor';
import type { UViTConfig } from '../src/model/common';
import { UViT } from '../src/model/uvit';
import { maskgitSample } from '../src/model/sampler';
import { loadWeights, type Manifest } from '../src/model/weights';
import { expectClose, expectEqualInts, getEngine, normalisedError } from './gpu';
import { readSafetensors } from './golden-io';

// README: forward stages 1e-4 relative (f32; PyTorch CPU and the GPU sum in different orders).
const TOL = 1e-4;
const DIR = resolve(__dirname, 'fixtures/uvit_tiny');

describe('UViT vs PyTorch (uvit_tiny)', async () => {
  const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as Manifest;
  const fixture = JSON.parse(readFileSync(`${DIR}/fixture.json`, 'utf8')) as {
    sampling: { steps: number; guidance: number; tau: number; temperature: number; seed: number };
  };
  const b = readFileSync(`${DIR}/model-00000.safetensors`);
  const weights = loadWeights(manifest, [b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer]);
  const arrays = readSafetensors(`${DIR}/arrays.safetensors`);
  const A = (n: string) => arrays.get(n)!;
  const cfg = manifest.config as unknown as UViTConfig;

  it('stages: text_tokens, c, embed, layer{i}, logits', async () => {
    const e = await getEngine();
    const model = new UViT(e, cfg, weights);
    const ids = A('input.text_ids');
    const B = ids.shape[0]!;
    const cond = model.encodeText(ids.data, B);
    const img = e.fromArray(A('input.img_tokens').shape, Uint32Array.from(A('input.img_tokens').data), 'u32');
    const stages = new Map<string, Tensor>([['text_tokens', cond.tokens], ['c', cond.c]]);
    const logits = model.logits(img, cond, stages);
    stages.set('logits', logits);
    const errs: string[] = [];
    for (const name of ['text_tokens', 'c', 'embed', ...Array.from({ length: cfg.layers }, (_, i) => `layer${i}`), 'logits']) {
      const got = await e.readF32(stages.get(name)!);
      const want = A(`stage.${name}`).data;
      errs.push(`${name} ${normalisedError(got, want).toExponential(2)}`);
      expectClose(got, want, TOL, `stage.${name}`);
    }
    console.log('uvit_tiny normalised errors:', errs.join(', '));
    for (const [k, t] of stages) if (k !== 'text_tokens' && k !== 'c') t.dispose();
    cond.dispose();
    img.dispose();
    model.dispose();
  });

  it('seeded MaskGIT run reproduces sample.tokens exactly', async () => {
    const e = await getEngine();
    const model = new UViT(e, cfg, weights);
    const ids = A('input.text_ids');
    const want = A('sample.tokens'); // (S, B, HW)
    const [S, B, HW] = want.shape as [number, number, number];
    const grids: Uint32Array[] = [];
    await maskgitSample(e, model, { ids: ids.data, uncondIds: A('sample.uncond_ids').data, batch: B, ...fixture.sampling }, (st) => {
      grids.push(st.tokens.slice());
    });
    for (let i = 0; i < S; i++) expectEqualInts(grids[i]!, want.data.subarray(i * B * HW, (i + 1) * B * HW), `step ${i}`);
    model.dispose();
  });
});
