// Opt-in (MODEL_FULL=1 for all, MODEL_FULL=mmamba-v2,uvit-s for some; slow on SwiftShader): the SHIPPED int8
// generators on the engine against PyTorch running the same dequantised weights (tests/fixtures/full_cases.json,
// written by tests/fixtures/make_full_cases.py): one forward's logits on a partly masked grid (measured: mmamba-s
// 1.1e-6, uvit-s 8.3e-7, mmamba-v2 1.9e-6, mmamba-m 1.7e-6 normalised), and the first steps of a 4-step guided
// MaskGIT run (tokens exact). Slow on SwiftShader (mmamba-v2 alone: 4 min on 2 loaded cores; mmamba-m 2.4 min on 2
// idle ones); meant for a real GPU.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createGenerator } from '../src/model/pipeline';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';
import { firstStepGrids } from './first_steps';
import { expectClose, getEngine, normalisedError } from './gpu';
import { loadModelDir } from './model_dirs';

const root = resolve(__dirname, '..');
const REF = resolve(root, 'tests/fixtures/full_cases.json');
const run = !!process.env.MODEL_FULL && existsSync(REF);

describe.skipIf(!run)('shipped generators vs PyTorch (opt-in: MODEL_FULL=1)', () => {
  const ref = run
    ? (JSON.parse(readFileSync(REF, 'utf8')) as Record<
        string,
        { ids: number[]; rows: number; logits_rows: number[]; steps: number[][] }
      >)
    : {};
  const only = process.env.MODEL_FULL === '1' ? null : (process.env.MODEL_FULL ?? '').split(',');
  for (const id of Object.keys(ref).filter((k) => !only || only.includes(k)))
    it(id, { timeout: 600_000 }, async () => {
      const e = await getEngine();
      const r = ref[id]!;
      const { manifest: m, weights } = loadModelDir(resolve(root, `public/models/${id}`));
      const model = createGenerator(e, m, weights);
      const tok = new BPETokenizer(m.tokenizer as unknown as TokenizerSpec);
      expect(Array.from(tok.encode('a red heart'))).toEqual(r.ids);
      const { codebook_size: K, grid } = model.config;
      const HW = grid * grid;
      const img = new Uint32Array(HW).fill(K);
      for (let p = 0; p < HW; p += 3) img[p] = p % K;
      const cond = model.encodeText(r.ids, 1);
      const t = e.fromArray([1, HW], img, 'u32');
      const logits = await e.readF32(model.logits(t, cond));
      const got = logits.subarray(0, r.rows * K);
      console.log(`${id}: logits normalised error ${normalisedError(got, r.logits_rows).toExponential(2)}`);
      expectClose(got, r.logits_rows, 1e-4, `${id} logits`);
      cond.dispose();
      // sampling: the first MODEL_FULL_STEPS (default 1) steps of the 4-step schedule, then cancel (a guided full-size
      // step is a batch-2 forward: minutes on SwiftShader)
      const upTo = Math.min(r.steps.length, Number(process.env.MODEL_FULL_STEPS ?? 1));
      const req = {
        ids: r.ids,
        uncondIds: tok.encode(''),
        batch: 1,
        steps: r.steps.length,
        guidance: 4,
        tau: 4.5,
        temperature: 1,
        seed: 11,
      };
      const grids = await firstStepGrids(e, model, req, upTo);
      expect(grids.length).toBe(upTo);
      grids.forEach((g, i) => {
        expect(g, `${id} step ${i}`).toEqual(r.steps[i]);
      });
      model.dispose();
    });
});
