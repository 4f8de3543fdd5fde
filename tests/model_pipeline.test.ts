// TextToImage end to end (src/model/pipeline.ts) against PyTorch (tests/fixtures/pipeline_cases.json, written by
// tests/fixtures/make_pipeline_cases.py): prompt → BPE ids → seeded MaskGIT with guidance / negative prompt / g = 1
// → every step's token grid (exact) → VQ-decoded pixels of the final grid (±1 level: the f32 decoder differs from
// PyTorch by ~1e-6 relative, which can flip a value sitting on a rounding boundary). Also: per-step callbacks and
// mask flags, cancellation through AbortSignal, request validation, dispose().
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TokenizerSpec } from '../src/model/bpe';
import { GenerationCancelledError, InvalidRequestError } from '../src/model/errors';
import { TextToImage, type GenerateRequest, type GenerateStep } from '../src/model/pipeline';
import { getEngine } from './gpu';
import { loadModelDir } from './model_dirs';

const FX = resolve(__dirname, 'fixtures');
const cases = JSON.parse(readFileSync(`${FX}/pipeline_cases.json`, 'utf8')) as {
  tokenizer: TokenizerSpec;
  cases: Array<{ model: string; request: GenerateRequest; ids: number[]; steps: number[][]; rgb: number[] }>;
};
const load = (name: string) => loadModelDir(`${FX}/${name}`);
const vq = load('vq_tiny');

describe('TextToImage vs PyTorch (tiny fixtures)', () => {
  for (const c of cases.cases)
    it(`${c.model}: ${JSON.stringify(c.request)}`, async () => {
      const e = await getEngine();
      const t2i = TextToImage.create(e, load(c.model), vq, cases.tokenizer);
      expect(Array.from(t2i.tokenizer.encode(c.request.prompt))).toEqual(c.ids);
      const seen: GenerateStep[] = [];
      // previewEveryMs 0: every step's preview decoded (the default paces them to the display, by wall time)
      const res = await t2i.generate({ ...c.request, previewEveryMs: 0 }, (s) => void seen.push(s));
      expect(seen.length).toBe(c.request.steps);
      seen.forEach((s, i) => {
        expect(Array.from(s.tokens), `step ${i}`).toEqual(c.steps[i]);
        expect(Array.from(s.masked)).toEqual(
          c.steps[i]!.map((t) => (t === t2i.generator.config.codebook_size ? 1 : 0)),
        );
        expect(s.step).toBe(i);
        expect(s.pixels?.length).toBe((vq.manifest.config.image_size as number) ** 2 * 4);
      });
      expect(Array.from(res.tokens)).toEqual(c.steps.at(-1));
      expect(res.tokens.every((t) => t < t2i.generator.config.codebook_size)).toBe(true);
      let maxDiff = 0;
      for (let p = 0; p < c.rgb.length / 3; p++)
        for (let ch = 0; ch < 3; ch++)
          maxDiff = Math.max(maxDiff, Math.abs(res.pixels[p * 4 + ch]! - c.rgb[p * 3 + ch]!));
      expect(maxDiff).toBeLessThanOrEqual(1);
      expect(res.timings.sampleMs.length).toBe(c.request.steps);
      t2i.dispose();
    });

  it('cancels between steps, validates requests, frees its tensors', async () => {
    const e = await getEngine();
    const before = e.pool.liveBytes;
    const t2i = TextToImage.create(e, load('mmamba_tiny'), vq, cases.tokenizer);
    const ac = new AbortController();
    let steps = 0;
    const req = { prompt: 'a cat', seed: 1, steps: 8, guidance: 3 };
    await expect(
      t2i.generate(
        req,
        (s) => {
          steps++;
          if (s.step === 2) ac.abort();
        },
        ac.signal,
      ),
    ).rejects.toBeInstanceOf(GenerationCancelledError);
    expect(steps).toBe(3);
    await expect(t2i.generate({ ...req, steps: 0 })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(t2i.generate({ ...req, steps: 65 })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(t2i.generate({ ...req, temperature: 0 })).rejects.toBeInstanceOf(InvalidRequestError);
    // still usable after a cancellation; emoji and very long prompts are fine
    const r = await t2i.generate({ ...req, prompt: '🐱🐶 '.repeat(50), steps: 2 });
    expect(r.tokens.length).toBe(16);
    t2i.dispose();
    await expect(t2i.generate(req)).rejects.toBeInstanceOf(InvalidRequestError);
    expect(e.pool.liveBytes).toBe(before);
  });
});
