// Editing and variations in TextToImage (src/model/pipeline.ts) against PyTorch (tests/fixtures/edit_cases.json,
// written by tests/fixtures/make_edit_cases.py) on the tiny fixture models:
// - inpainting: kept tokens fixed from step 0, the rest re-generated with the schedule over the masked count;
//   every step's grid equals sampling.py maskgit_sample(init_tokens=, keep=) exactly;
// - image-to-image by strength: the keep-mask the engine chooses ('random' by the seed, 'confidence' from the
//   model's checkerboard pass, [MASK] tokens never kept) equals sampling.py strength_keep, and every step's grid too;
// - variations: N images in one batch equal seeded_sampling.py maskgit_sample_rows with seeds seed, seed+1, …, and
//   each equals the batch-1 generation with its seed (tokens and pixels);
// - the sampler's refusals of a malformed edit.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TokenizerSpec } from '../src/model/bpe';
import { InvalidRequestError } from '../src/model/errors';
import { TextToImage, type GenerateRequest, type GenerateStep } from '../src/model/pipeline';
import { getEngine } from './gpu';
import { loadModelDir } from './model_dirs';

const FX = resolve(__dirname, 'fixtures');
const tokenizer = (JSON.parse(readFileSync(`${FX}/pipeline_cases.json`, 'utf8')) as { tokenizer: TokenizerSpec })
  .tokenizer;
const cases = JSON.parse(readFileSync(`${FX}/edit_cases.json`, 'utf8')) as {
  edits: Array<{
    model: string;
    request: GenerateRequest & { initTokens: number[]; keep: number[] };
    steps: number[][];
  }>;
  variations: Array<{ model: string; request: GenerateRequest & { variations: number }; tokens: number[][] }>;
  strengths: Array<{
    model: string;
    request: GenerateRequest & { initTokens: number[] };
    keep: number[];
    steps: number[][];
  }>;
};
const load = (name: string) => loadModelDir(`${FX}/${name}`);
const vq = load('vq_tiny');

describe('inpainting vs PyTorch (tiny fixtures)', () => {
  for (const c of cases.edits)
    it(`${c.model}: seed ${c.request.seed}, keep ${c.request.keep.join('')}`, async () => {
      const e = await getEngine();
      const t2i = TextToImage.create(e, load(c.model), vq, tokenizer);
      const K = t2i.generator.config.codebook_size;
      const seen: GenerateStep[] = [];
      const res = await t2i.generate(c.request, (s) => void seen.push(s));
      expect(seen.length).toBe(c.request.steps);
      seen.forEach((s, i) => {
        expect(Array.from(s.tokens), `step ${i}`).toEqual(c.steps[i]);
        expect(s.count).toBe(1);
        c.request.keep.forEach((k, p) => {
          k && expect(s.tokens[p], `kept token ${p} at step ${i}`).toBe(c.request.initTokens[p]);
        });
      });
      expect(Array.from(res.tokens)).toEqual(c.steps.at(-1));
      expect(res.tokens.every((t) => t < K)).toBe(true);
      t2i.dispose();
    });

  it('refuses malformed edits', async () => {
    const e = await getEngine();
    const t2i = TextToImage.create(e, load('mmamba_tiny'), vq, tokenizer);
    const req = { prompt: 'a cat', seed: 1, steps: 2, guidance: 1 };
    const keep = Array.from({ length: 16 }, (_, p) => p % 2);
    const init = new Array(16).fill(3);
    for (const [bad, why] of [
      [{ initTokens: init }, /come together/],
      [{ initTokens: init.slice(1), keep }, /16 entries/],
      [{ initTokens: init, keep: new Array(16).fill(1) }, /keeps every token/],
      [{ initTokens: init.map((t, p) => (p === 1 ? 999 : t)), keep }, /initTokens\[1\] is 999/],
    ] as const)
      await expect(t2i.generate({ ...req, ...bad })).rejects.toThrow(why);
    // = plain generation
    await expect(t2i.generate({ ...req, initTokens: init, keep: keep.map(() => 0) })).resolves.toBeTruthy();
    await expect(t2i.generate({ ...req, variations: 9 })).rejects.toBeInstanceOf(InvalidRequestError);
    t2i.dispose();
  });
});

describe('image-to-image by strength vs PyTorch (tiny fixtures)', () => {
  for (const c of cases.strengths)
    it(`${c.model}: ${c.request.remask} at strength ${c.request.strength}, seed ${c.request.seed}`, async () => {
      const e = await getEngine();
      const t2i = TextToImage.create(e, load(c.model), vq, tokenizer);
      const seen: GenerateStep[] = [];
      const res = await t2i.generate(c.request, (s) => void seen.push(s));
      expect(Array.from(res.keep ?? []), 'keep-mask').toEqual(c.keep);
      seen.forEach((s, i) => {
        expect(Array.from(s.tokens), `step ${i}`).toEqual(c.steps[i]);
      });
      t2i.dispose();
    });

  it('confidence re-masks the least likely tokens: the scores of the re-masked ones are the lowest', async () => {
    const e = await getEngine();
    const t2i = TextToImage.create(e, load('mmamba_tiny'), vq, tokenizer);
    const c = cases.strengths[0]!;
    const scores = await t2i.tokenConfidence(c.request.prompt, c.request.initTokens);
    const kept = scores.filter((_, p) => c.keep[p] === 1);
    const redrawn = scores.filter((_, p) => c.keep[p] === 0);
    expect(Math.max(...redrawn)).toBeLessThanOrEqual(Math.min(...kept));
    expect(scores.every((v) => v <= 0)).toBe(true);
    // the random choice ignores the model: another prompt, the same mask; confidence follows the prompt's scores
    const rnd = await t2i.generate({ ...c.request, remask: 'random', steps: 1 });
    const rnd2 = await t2i.generate({ ...c.request, prompt: 'zebra', remask: 'random', steps: 1 });
    expect(Array.from(rnd.keep!)).toEqual(Array.from(rnd2.keep!));
    await expect(t2i.generate({ ...c.request, strength: 0.01 })).rejects.toThrow(/re-draws no token/);
    const all = await t2i.generate({ ...c.request, strength: 1, steps: 1 });
    expect(all.keep).toBeUndefined(); // strength 1: a plain generation
    t2i.dispose();
  });
});

describe('variations (one batch) = single generations with seeds seed, seed+1, …', () => {
  for (const c of cases.variations)
    it(`${c.model}: ${c.request.variations} from seed ${c.request.seed}, guidance ${c.request.guidance}`, async () => {
      const e = await getEngine();
      const t2i = TextToImage.create(e, load(c.model), vq, tokenizer);
      const n = c.request.variations;
      const steps: GenerateStep[] = [];
      const batch = await t2i.generate(c.request, (s) => void steps.push(s));
      expect(batch.count).toBe(n);
      expect(steps.every((s) => s.count === n && s.tokens.length === n * 16)).toBe(true);
      const HW = batch.tokens.length / n;
      const bytes = batch.pixels.length / n;
      for (let i = 0; i < n; i++) {
        expect(Array.from(batch.tokens.subarray(i * HW, (i + 1) * HW)), `variation ${i} vs PyTorch`).toEqual(
          c.tokens[i],
        );
        const one = await t2i.generate({ ...c.request, variations: undefined, seed: (c.request.seed + i) >>> 0 });
        expect(one.count).toBe(1);
        expect(Array.from(one.tokens), `variation ${i} vs batch 1`).toEqual(
          Array.from(batch.tokens.subarray(i * HW, (i + 1) * HW)),
        );
        expect(Array.from(one.pixels)).toEqual(Array.from(batch.pixels.subarray(i * bytes, (i + 1) * bytes)));
      }
      const distinct = new Set(c.tokens.map((t) => t.join()));
      expect(distinct.size).toBe(n);
      t2i.dispose();
    });

  it('variations of an edit keep the kept tokens in every image', async () => {
    const e = await getEngine();
    const t2i = TextToImage.create(e, load('mmamba_tiny'), vq, tokenizer);
    const c = cases.edits[0]!;
    const n = 3;
    const batch = await t2i.generate({ ...c.request, variations: n });
    for (let i = 0; i < n; i++) {
      const one = await t2i.generate({ ...c.request, seed: (c.request.seed + i) >>> 0 });
      expect(Array.from(batch.tokens.subarray(i * 16, (i + 1) * 16)), `variation ${i}`).toEqual(Array.from(one.tokens));
      if (i === 0) expect(Array.from(one.tokens)).toEqual(c.steps.at(-1));
    }
    t2i.dispose();
  });
});
