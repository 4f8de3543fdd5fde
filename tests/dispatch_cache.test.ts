// The engine's dispatch cache (src/engine/dispatch_cache.ts): reused bind groups and content-addressed uniform
// buffers give the results of fresh ones (checked against a CPU reference, also with caches so small that they evict
// inside one command buffer), the caches stay within their bounds, a repeated step hits (the buffer pool hands out
// the same buffers each step), and a whole generation is bit-identical to one on an engine that caches nothing.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine';
import { add, axpby } from '../src/engine/ops/elementwise';
import type { TokenizerSpec } from '../src/model/bpe';
import { TextToImage } from '../src/model/pipeline';
import { MaskGitRun } from '../src/model/sampler';
import { expectEqualInts, freshSeed, getEngine, randn } from './gpu';
import { loadModelDir } from './model_dirs';

const FX = resolve(__dirname, 'fixtures');
const load = (name: string) => loadModelDir(`${FX}/${name}`);
const tokenizer = (JSON.parse(readFileSync(`${FX}/pipeline_cases.json`, 'utf8')) as { tokenizer: TokenizerSpec })
  .tokenizer;

/** Rounds of (x·α + y·β) + x on fresh random inputs, α and β cycling through a few values, each round read back
 *  and compared with the f32 CPU result (exact: one rounding per operation on both sides). */
async function rounds(e: Engine, seed: number, n: number): Promise<number[]> {
  const params = [
    [0.5, 2],
    [2, -1],
    [-1, 3],
    [0.25, 0.75],
  ] as const;
  const missesAfter: number[] = [];
  for (let r = 0; r < n; r++) {
    const [alpha, beta] = params[r % params.length]!;
    const xs = randn(1000, seed + r);
    const ys = randn(1000, seed + 1000 + r);
    const x = e.fromArray([1000], xs);
    const y = e.fromArray([1000], ys);
    const z = axpby(e, x, y, alpha, beta);
    const w = add(e, z, x);
    const got = await e.readF32(w);
    const want = xs.map((xv, i) => {
      const zv = Math.fround(Math.fround(xv * alpha) + Math.fround(ys[i]! * beta));
      return Math.fround(zv + xv);
    });
    expectEqualInts(got, want, `round ${r} (α ${alpha}, β ${beta}, seed ${seed})`);
    for (const t of [x, y, z, w]) t.dispose();
    missesAfter.push(e.dispatchCache.stats.bindGroupMisses);
  }
  return missesAfter;
}

describe('dispatch cache', () => {
  it('reused bind groups and uniform buffers compute what fresh ones do; a repeated round hits', async () => {
    const seed = freshSeed();
    const shared = await getEngine();
    const e = new Engine(shared.ctx); // own pool and cache, so the counts below are this test's
    try {
      const misses = await e.checked(() => rounds(e, seed, 8));
      // round 0 makes the 2 bind groups; later rounds bind the same pooled buffers (a bind group names buffers, not
      // data) but rounds 1-3 bring new uniform blocks (α, β), so new bind groups for axpby; from round 4 on all hit
      expect(misses[0]).toBe(2);
      expect(misses[7]).toBe(misses[3]);
      expect(e.dispatchCache.stats.uniformMisses).toBe(5); // 4 (α, β) blocks + add's one
      expect(e.dispatchCache.stats.bindGroupHits).toBeGreaterThanOrEqual(8);
    } finally {
      e.dispose();
    }
  });

  it('caches smaller than one round evict mid-command-buffer and stay correct and bounded', async () => {
    const seed = freshSeed();
    const shared = await getEngine();
    const e = new Engine(shared.ctx, { maxUniforms: 1, maxBindGroups: 1 });
    try {
      await e.checked(async () => {
        // several rounds in ONE command buffer: the evicted uniform buffer is still used by recorded commands
        const xs = randn(512, seed);
        const x = e.fromArray([512], xs);
        const outs = [1, 2, 3, 4, 5].map((a) => axpby(e, x, x, a, -a / 2));
        for (let i = 0; i < outs.length; i++) {
          const a = i + 1;
          const want = xs.map((v) => Math.fround(Math.fround(v * a) + Math.fround(v * (-a / 2))));
          expectEqualInts(await e.readF32(outs[i]!), want, `axpby α ${a} (seed ${seed})`);
        }
        for (const t of [x, ...outs]) t.dispose();
        await rounds(e, seed + 7, 5);
      });
      expect(e.dispatchCache.uniformCount).toBeLessThanOrEqual(1);
      expect(e.dispatchCache.bindGroupCount).toBeLessThanOrEqual(1);
    } finally {
      e.dispose();
    }
  });

  it('MaskGIT steps repeat their bind groups (the pool is deterministic); the cache stops growing', async () => {
    const shared = await getEngine();
    const e = new Engine(shared.ctx);
    const t2i = TextToImage.create(e, load('mmamba_tiny'), load('vq_tiny'), tokenizer);
    try {
      const ids = t2i.tokenizer.encode('a red heart');
      const uncond = t2i.tokenizer.encode('');
      const generation = async (seed: number) => {
        const run = new MaskGitRun(e, t2i.generator, {
          ...{ ids, uncondIds: uncond, batch: 1, steps: 6, guidance: 4, tau: 4.5, temperature: 1 },
          seed,
        });
        const misses: number[] = [];
        for (let i = 0; i < 6; i++) {
          const m0 = e.dispatchCache.stats.bindGroupMisses;
          const d0 = e.dispatchCount;
          run.step();
          const packed = t2i.decoder.preview(run.tokens);
          await e.read(packed);
          packed.dispose();
          misses.push(e.dispatchCache.stats.bindGroupMisses - m0);
          if (i === 0) expect(e.dispatchCount - d0).toBeGreaterThan(20);
        }
        run.dispose();
        return misses;
      };
      const first = await generation(1);
      const second = await generation(2);
      // the sampling dispatches' uniform blocks hold the seed and the step: new for each step of a new seed (2 a
      // step: Gumbel-max, re-mask); everything else is the same dispatch on the same buffers, from the first
      // generation's third step on (its first steps meet the pool still filling)
      expect(first[0]).toBeGreaterThan(20);
      for (const m of [...first.slice(2), ...second]) expect(m).toBe(2);
      const size = e.dispatchCache.bindGroupCount;
      await generation(1); // a seed seen before: nothing new at all
      expect(e.dispatchCache.bindGroupCount).toBe(size);
    } finally {
      t2i.dispose();
      e.dispose();
    }
  });

  it('a generation on an engine that caches nothing gives the same tokens and pixels', async () => {
    const shared = await getEngine();
    // previewEveryMs 0: every step's preview decoded (pacing would make which ones depend on timing)
    const req = { prompt: 'a red heart', seed: 7, steps: 4, guidance: 4, tau: 4.5, temperature: 1, previewEveryMs: 0 };
    const results = [];
    for (const cache of [{}, { maxUniforms: 0, maxBindGroups: 0 }]) {
      const e = new Engine(shared.ctx, cache);
      const t2i = TextToImage.create(e, load('mmamba_tiny'), load('vq_tiny'), tokenizer);
      const steps: Uint8ClampedArray[] = [];
      results.push({ res: await e.checked(() => t2i.generate(req, (s) => void steps.push(s.pixels!))), steps });
      if (cache.maxBindGroups === 0) expect(e.dispatchCache.bindGroupCount).toBe(0);
      t2i.dispose();
      e.dispose();
    }
    const [a, b] = results;
    expectEqualInts(a!.res.tokens, b!.res.tokens, 'final tokens');
    expectEqualInts(a!.res.pixels, b!.res.pixels, 'final pixels');
    for (let i = 0; i < req.steps; i++) expectEqualInts(a!.steps[i]!, b!.steps[i]!, `step ${i} preview`);
  });
});
