// Both generators on the engine (src/model/mmamba.ts on the fused cross-scan path, src/model/uvit.ts) against
// PyTorch stage by stage (tests/fixtures/{mmamba,uvit,mmamba_ffn}_tiny): text encoder output, pooled c, the embedded
// sequence, each layer, logits; then the seeded MaskGIT run (sample.tokens) through src/model/sampler.ts, exact.
// With the inference fusions (src/model/fusions.ts) on, the default, off (the unfused path the benchmark compares),
// and the default with chunkedScan off (the fused sequential scan, for both layer kinds).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'vitest';
import type { Engine } from '../src/engine/engine';
import type { Tensor } from '../src/engine/tensor';
import type { MMambaConfig, UViTConfig } from '../src/model/common';
import type { Generator } from '../src/model/generator';
import { defaultFusions, noFusions } from '../src/model/fusions';
import { MMamba } from '../src/model/mmamba';
import { maskgitSample } from '../src/model/sampler';
import { UViT } from '../src/model/uvit';
import { loadWeights, type Manifest, type WeightMap } from '../src/model/weights';
import { expectClose, expectEqualInts, getEngine, normalisedError } from './gpu';
import { readSafetensors } from './golden_io';

// README: forward stages 1e-4 relative (f32; PyTorch CPU and the GPU sum in different orders). The M-Mamba
// fixture ran the sequential reference scan; ours is the fused parallel-over-channels scan, same order over L.
const TOL = 1e-4;

// the models' fusions with selectiveScanChunked (+ crossMerge) swapped back for the fused sequential scan
const SEQUENTIAL = { ...defaultFusions(), chunkedScan: false };

type GenConfig = MMambaConfig | UViTConfig;
type Build = (e: Engine, cfg: GenConfig, w: WeightMap) => Generator;
const CASES: Array<[string, string, Build]> = [
  ['M-Mamba', 'mmamba_tiny', (e, cfg, w) => new MMamba(e, cfg as MMambaConfig, w)],
  [
    'M-Mamba (chunkedScan off: fused sequential scan)',
    'mmamba_tiny',
    (e, cfg, w) => Object.assign(new MMamba(e, cfg as MMambaConfig, w), { fusions: SEQUENTIAL }),
  ],
  ['UViT', 'uvit_tiny', (e, cfg, w) => new UViT(e, cfg as UViTConfig, w)],
  // the slim layer: expand 1, d_state 1, GEGLU FFN sublayer, learned positions
  ['M-Mamba (expand 1, d_state 1, FFN)', 'mmamba_ffn_tiny', (e, cfg, w) => new MMamba(e, cfg as MMambaConfig, w)],
  [
    'M-Mamba (expand 1, d_state 1, FFN), chunkedScan off',
    'mmamba_ffn_tiny',
    (e, cfg, w) => Object.assign(new MMamba(e, cfg as MMambaConfig, w), { fusions: SEQUENTIAL }),
  ],
  [
    'M-Mamba (expand 1, d_state 1, FFN), fusions off',
    'mmamba_ffn_tiny',
    (e, cfg, w) => Object.assign(new MMamba(e, cfg as MMambaConfig, w), { fusions: noFusions() }),
  ],
  [
    'UViT, fusions off',
    'uvit_tiny',
    (e, cfg, w) => Object.assign(new UViT(e, cfg as UViTConfig, w), { fusions: noFusions() }),
  ],
];

for (const [name, fixtureName, build] of CASES) {
  describe(`${name} vs PyTorch (${fixtureName})`, async () => {
    const DIR = resolve(__dirname, `fixtures/${fixtureName}`);
    const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as Manifest;
    const fixture = JSON.parse(readFileSync(`${DIR}/fixture.json`, 'utf8')) as {
      sampling: { steps: number; guidance: number; tau: number; temperature: number; seed: number };
    };
    const b = readFileSync(`${DIR}/model-00000.safetensors`);
    const weights = loadWeights(manifest, [b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer]);
    const arrays = readSafetensors(`${DIR}/arrays.safetensors`);
    const A = (n: string) => arrays.get(n)!;
    const cfg = manifest.config as unknown as GenConfig;

    it('stages: text_tokens, c, embed, layer{i}, logits', async () => {
      const e = await getEngine();
      const model = build(e, cfg, weights);
      const ids = A('input.text_ids');
      const B = ids.shape[0]!;
      const cond = model.encodeText(ids.data, B);
      const img = e.fromArray(A('input.img_tokens').shape, Uint32Array.from(A('input.img_tokens').data), 'u32');
      const stages = new Map<string, Tensor>([
        ['text_tokens', cond.tokens],
        ['c', cond.c],
      ]);
      const logits = model.logits(img, cond, stages);
      stages.set('logits', logits);
      const errs: string[] = [];
      for (const stage of [
        'text_tokens',
        'c',
        'embed',
        ...Array.from({ length: cfg.layers }, (_, i) => `layer${i}`),
        'logits',
      ]) {
        const got = await e.readF32(stages.get(stage)!);
        const want = A(`stage.${stage}`).data;
        errs.push(`${stage} ${normalisedError(got, want).toExponential(2)}`);
        expectClose(got, want, TOL, `stage.${stage}`);
      }
      console.log(`${fixtureName} normalised errors:`, errs.join(', '));
      for (const [k, t] of stages) if (k !== 'text_tokens' && k !== 'c') t.dispose();
      cond.dispose();
      img.dispose();
      model.dispose();
    });

    it('seeded MaskGIT run reproduces sample.tokens exactly', async () => {
      const e = await getEngine();
      const model = build(e, cfg, weights);
      const ids = A('input.text_ids');
      const want = A('sample.tokens'); // (S, B, HW)
      const [S, B, HW] = want.shape as [number, number, number];
      const grids: Uint32Array[] = [];
      await maskgitSample(
        e,
        model,
        { ids: ids.data, uncondIds: A('sample.uncond_ids').data, batch: B, ...fixture.sampling },
        (st) => {
          grids.push(st.tokens.slice());
        },
      );
      for (let i = 0; i < S; i++)
        expectEqualInts(grids[i]!, want.data.subarray(i * B * HW, (i + 1) * B * HW), `step ${i}`);
      model.dispose();
    });
  });
}
