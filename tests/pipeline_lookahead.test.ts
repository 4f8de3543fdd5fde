// TextToImage's lookahead (src/model/pipeline.ts): steps recorded and submitted ahead of the readback awaited give
// the same previews, in order, and the same final image as awaiting every step (the PyTorch golden grids of
// tests/fixtures/pipeline_cases.json at every step); a cancel with steps in flight stops at once, frees every
// buffer and leaves the next generation unchanged; the per-step CPU breakdown adds up to the recording time.
import { describe, expect, it } from 'vitest';
import { GenerationCancelledError } from '../src/model/errors';
import { TextToImage, type GenerateRequest, type GenerateResult, type GenerateStep } from '../src/model/pipeline';
import { expectEqualInts, getEngine } from './gpu';
import { loadFixtureModel, pipelineCases } from './model_dirs';

const cases = pipelineCases();
const load = loadFixtureModel;
const vq = load('vq_tiny');
const golden = cases.cases.find((c) => c.model === 'mmamba_tiny' && c.request.guidance !== 1)!;
// every step's preview decoded (the default paces them to the display, by wall time): the steps' pixels compare
const everyStep: GenerateRequest = { ...golden.request, previewEveryMs: 0 };

describe('TextToImage lookahead', () => {
  it('every lookahead gives the golden grid at every step, in order, and the same pixels', async () => {
    const e = await getEngine();
    const t2i = TextToImage.create(e, load('mmamba_tiny'), vq, cases.tokenizer);
    let first: { res: GenerateResult; steps: GenerateStep[] } | undefined;
    for (const lookahead of [0, 1, 2, 3, 64]) {
      t2i.lookahead = lookahead;
      const steps: GenerateStep[] = [];
      const res = await e.checked(() => t2i.generate(everyStep, (s) => void steps.push(s)));
      expect(steps.map((s) => s.step)).toEqual(golden.steps.map((_, i) => i));
      for (const [i, s] of steps.entries())
        expectEqualInts(s.tokens, golden.steps[i]!, `lookahead ${lookahead}, step ${i}`);
      if (first) {
        expectEqualInts(res.pixels, first.res.pixels, `lookahead ${lookahead}: final pixels`);
        for (const [i, s] of steps.entries())
          expectEqualInts(s.pixels!, first.steps[i]!.pixels!, `lookahead ${lookahead}: step ${i} preview`);
      } else first = { res, steps };
      // the CPU breakdown: one entry a step; its recording parts add up to (at most) the step's recording time
      expect(res.timings.cpu.length).toBe(golden.request.steps);
      res.timings.cpu.forEach((c, i) => {
        const parts = [c.forwardMs, c.samplingMs, c.previewMs, c.submitMs, c.waitMs, c.reportMs];
        for (const p of parts) expect(p).toBeGreaterThanOrEqual(0);
        const recorded = c.forwardMs + c.samplingMs + c.previewMs + c.submitMs;
        expect(recorded).toBeGreaterThan(0);
        expect(recorded).toBeLessThanOrEqual(res.timings.sampleMs[i]! + 1e-6);
      });
    }
    t2i.dispose();
  });

  it('a cancel with steps in flight stops at once, frees its buffers, and the next run is unchanged', async () => {
    const e = await getEngine();
    const t2i = TextToImage.create(e, load('mmamba_tiny'), vq, cases.tokenizer);
    const req = { ...golden.request, steps: 6 };
    const whole = await t2i.generate(req);
    for (const lookahead of [1, 2, 3]) {
      t2i.lookahead = lookahead;
      const live = e.pool.liveBytes;
      const ac = new AbortController();
      const seen: number[] = [];
      const run = e.checked(() =>
        t2i.generate(
          req,
          (s) => {
            seen.push(s.step);
            if (s.step === 1) ac.abort(); // steps 2 … 1 + lookahead are already submitted
          },
          ac.signal,
        ),
      );
      const err = await run.catch((x: unknown) => x);
      expect(err).toBeInstanceOf(GenerationCancelledError);
      expect((err as GenerationCancelledError).step).toBe(2);
      expect(seen).toEqual([0, 1]);
      expect(e.pool.liveBytes).toBe(live); // the dropped steps' previews went back to the pool
      const again = await e.checked(() => t2i.generate(req));
      expectEqualInts(again.tokens, whole.tokens, `lookahead ${lookahead}: tokens after a cancel`);
      expectEqualInts(again.pixels, whole.pixels, `lookahead ${lookahead}: pixels after a cancel`);
    }
    t2i.dispose();
  });
});
