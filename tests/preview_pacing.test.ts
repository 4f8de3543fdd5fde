// Preview pacing (src/model/pipeline.ts GenerateRequest.previewEveryMs): with 0 every step carries the preview that
// VQDecoder.preview makes of its grid (what every step read back before pacing); with a pacing no step reaches,
// only the first and final steps carry pixels, every step still reports the unpaced run's tokens and mask, and the
// result is bit-identical to the unpaced run's (lookahead 0 and 2, one image and variations); a paced-away step's
// picture decoded on demand (TextToImage.decodePreview of its tokens, and the page's frames through
// src/ui/edit_frames.ts ownPixels) is the unpaced run's pixels of that step;
// under a fake clock the decoded steps are exactly those the rule picks. Tiny fixtures (tests/fixtures), Dawn on
// SwiftShader.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidRequestError } from '../src/model/errors';
import { TextToImage, type GenerateRequest, type GenerateResult, type GenerateStep } from '../src/model/pipeline';
import { expectEqualInts, getEngine } from './gpu';
import { loadFixtureModel, pipelineCases } from './model_dirs';
import { ownPixels, splitStep, type DecodeTokens } from '../src/ui/edit_frames';
import type { Frame } from '../src/ui/edit_frames';

const cases = pipelineCases();
const load = loadFixtureModel;
const vq = load('vq_tiny');
const golden = cases.cases.find((c) => c.model === 'mmamba_tiny' && c.request.guidance !== 1)!;
/** A pacing no run of these tests reaches: only the first and final steps are decoded. */
const NEVER = 1e9;

async function generate(
  t2i: TextToImage,
  req: GenerateRequest,
): Promise<{ res: GenerateResult; steps: GenerateStep[] }> {
  const e = await getEngine();
  const steps: GenerateStep[] = [];
  const res = await e.checked(() => t2i.generate(req, (s) => void steps.push(s)));
  expect(steps.map((s) => s.step)).toEqual(steps.map((_, i) => i));
  return { res, steps };
}

describe('preview pacing', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('previewEveryMs 0: every step carries VQDecoder.preview of its grid (pixels, then the grid)', async () => {
    const e = await getEngine();
    const t2i = TextToImage.create(e, load('mmamba_tiny'), vq, cases.tokenizer);
    const S2 = t2i.decoder.imageSize ** 2;
    const HW = t2i.generator.config.grid ** 2;
    for (const variations of [1, 2]) {
      const req = { ...golden.request, variations, previewEveryMs: 0 };
      const { res, steps } = await generate(t2i, req);
      expect(steps.length).toBe(req.steps);
      for (const [i, s] of steps.entries()) {
        const what = `variations ${variations}, step ${i}`;
        expect(s.imageSize, what).toBe(t2i.decoder.imageSize);
        expect(s.pixels, `${what}: pixels`).toBeDefined();
        if (variations === 1) expectEqualInts(s.tokens, golden.steps[i]!, `${what}: tokens vs PyTorch`);
        const grid = e.fromArray([variations, HW], s.tokens, 'u32', 'test_grid');
        const packed = t2i.decoder.preview(grid);
        const words = (await e.read(packed)) as Uint32Array;
        packed.dispose();
        grid.dispose();
        expectEqualInts(s.pixels!, new Uint8Array(words.buffer, 0, variations * S2 * 4), `${what}: pixels`);
        expectEqualInts(s.tokens, words.subarray(variations * S2), `${what}: grid`);
      }
      expectEqualInts(res.pixels, steps.at(-1)!.pixels!, `variations ${variations}: result = last step`);
    }
    t2i.dispose();
  });

  it('a pacing never reached: only the first and final steps have pixels; tokens, masks and result as unpaced', async () => {
    const e = await getEngine();
    const t2i = TextToImage.create(e, load('mmamba_tiny'), vq, cases.tokenizer);
    for (const variations of [1, 2]) {
      const base = { ...golden.request, variations };
      t2i.lookahead = 2;
      const ref = await generate(t2i, { ...base, previewEveryMs: 0 });
      for (const [lookahead, previewEveryMs] of [
        [0, NEVER],
        [2, NEVER],
        [2, Number.POSITIVE_INFINITY],
      ] as const) {
        t2i.lookahead = lookahead;
        const what = `variations ${variations}, lookahead ${lookahead}, previewEveryMs ${previewEveryMs}`;
        const live = e.pool.liveBytes;
        const got = await generate(t2i, { ...base, previewEveryMs });
        expect(e.pool.liveBytes, `${what}: buffers back in the pool`).toBe(live);
        expect(
          got.steps.map((s) => s.pixels !== undefined),
          what,
        ).toEqual(ref.steps.map((_, i) => i === 0 || i === ref.steps.length - 1));
        expect(got.steps.length).toBe(ref.steps.length);
        for (const [i, s] of got.steps.entries()) {
          const r = ref.steps[i]!;
          expect([s.count, s.steps, s.imageSize], `${what}, step ${i}`).toEqual([r.count, r.steps, r.imageSize]);
          expectEqualInts(s.tokens, r.tokens, `${what}, step ${i}: tokens`);
          expectEqualInts(s.masked, r.masked, `${what}, step ${i}: masked`);
        }
        expectEqualInts(got.steps[0]!.pixels!, ref.steps[0]!.pixels!, `${what}: first step's pixels`);
        expectEqualInts(got.steps.at(-1)!.pixels!, ref.steps.at(-1)!.pixels!, `${what}: final step's pixels`);
        expectEqualInts(got.res.tokens, ref.res.tokens, `${what}: result tokens`);
        expectEqualInts(got.res.pixels, ref.res.pixels, `${what}: result pixels`);
      }
    }
    t2i.lookahead = 2;
    t2i.dispose();
  });

  it('under a fake clock the decoded steps are those the rule picks, with the unpaced pixels', async () => {
    // Lookahead 0 (each step submitted after the previous one was reported); the clock moves 10 ms per report.
    // Pacing 25 ms: submitted at t = 0 (the first step: always decoded), 10, 20, 30 (decoded), 40, 50, 60
    // (decoded), 70 (the final step: always decoded).
    const e = await getEngine();
    const t2i = TextToImage.create(e, load('mmamba_tiny'), vq, cases.tokenizer);
    t2i.lookahead = 0;
    const req = { ...golden.request, steps: 8 };
    const ref = await generate(t2i, { ...req, previewEveryMs: 0 });
    let clock = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => clock);
    const steps: GenerateStep[] = [];
    const res = await e.checked(() =>
      t2i.generate({ ...req, previewEveryMs: 25 }, (s) => {
        steps.push(s);
        clock += 10;
      }),
    );
    vi.restoreAllMocks();
    const decoded = steps.flatMap((s) => (s.pixels ? [s.step] : []));
    expect(decoded).toEqual([0, 3, 6, 7]);
    for (const i of decoded) expectEqualInts(steps[i]!.pixels!, ref.steps[i]!.pixels!, `step ${i}: pixels`);
    for (const [i, s] of steps.entries()) expectEqualInts(s.tokens, ref.steps[i]!.tokens, `step ${i}: tokens`);
    expectEqualInts(res.pixels, ref.res.pixels, 'result pixels');
    t2i.lookahead = 2;
    t2i.dispose();
  });

  it("decodePreview of a paced-away step's tokens is that step's unpaced preview", async () => {
    const e = await getEngine();
    const t2i = TextToImage.create(e, load('mmamba_tiny'), vq, cases.tokenizer);
    for (const variations of [1, 2]) {
      const base = { ...golden.request, variations };
      const ref = await generate(t2i, { ...base, previewEveryMs: 0 });
      const got = await generate(t2i, { ...base, previewEveryMs: NEVER });
      const skipped = got.steps.filter((s) => !s.pixels);
      expect(skipped.length, `variations ${variations}: steps paced away`).toBe(base.steps - 2);
      const live = e.pool.liveBytes;
      for (const s of skipped) {
        const own = await e.checked(() => t2i.decodePreview(s.tokens, variations));
        expectEqualInts(own, ref.steps[s.step]!.pixels!, `variations ${variations}, step ${s.step}: pixels`);
      }
      // one image of a variations step on its own: that image's part of the step's pixels
      const hw = t2i.generator.config.grid ** 2;
      const bytes = t2i.decoder.imageSize ** 2 * 4;
      const s = skipped[0]!;
      const last = await t2i.decodePreview(s.tokens.subarray((variations - 1) * hw), 1);
      expectEqualInts(last, ref.steps[s.step]!.pixels!.subarray((variations - 1) * bytes), 'the last image alone');
      expect(e.pool.liveBytes, 'buffers back in the pool').toBe(live);
      // the page's frames (src/ui/edit_frames.ts): a paced-away step keeps the last image until it is picked, then
      // ownPixels gives it its own picture from its tokens, the unpaced run's frame's
      const decode: DecodeTokens = async (tokens) => {
        const size = t2i.decoder.imageSize;
        return { pixels: await t2i.decodePreview(tokens, 1), width: size, height: size };
      };
      const frames = (steps: GenerateStep[]) => {
        const out: Frame[][] = [];
        for (const st of steps) {
          const p = { ...st, kind: 'step' as const, width: st.imageSize, height: st.imageSize };
          out.push(splitStep(p, out.at(-1) ?? []));
        }
        return out;
      };
      const refFrames = frames(ref.steps);
      for (const [i, step] of frames(got.steps).entries())
        for (const [j, f] of step.entries()) {
          const what = `variations ${variations}, step ${i}, image ${j}`;
          expect(f.kept, what).toBe(got.steps[i]!.pixels === undefined);
          if (f.kept) expectEqualInts(f.pixels, refFrames[0]![j]!.pixels, `${what}: the first step's image kept`);
          await ownPixels(f, decode);
          expect(f.kept, what).toBe(false);
          expectEqualInts(f.pixels, refFrames[i]![j]!.pixels, `${what}: its own picture`);
        }
    }
    const hw = t2i.generator.config.grid ** 2;
    for (const [tokens, count] of [
      [new Uint32Array(hw - 1), 1],
      [new Uint32Array(hw), 2],
      [new Array<number>(hw).fill(-1), 1],
      [new Array<number>(hw).fill(0.5), 1],
      [new Array<number>(hw).fill(2 ** 32), 1],
    ] as const)
      await expect(t2i.decodePreview(tokens, count), `${tokens.length} tokens, count ${count}`).rejects.toBeInstanceOf(
        InvalidRequestError,
      );
    t2i.dispose();
  });

  it('refuses a negative or NaN pacing', async () => {
    const e = await getEngine();
    const t2i = TextToImage.create(e, load('mmamba_tiny'), vq, cases.tokenizer);
    for (const previewEveryMs of [-1, Number.NaN])
      await expect(t2i.generate({ ...golden.request, previewEveryMs })).rejects.toBeInstanceOf(InvalidRequestError);
    t2i.dispose();
  });
});
