// Sampling kernels vs their CPU references: the shared RNG bit for bit (and against values printed by
// training/mmamba/rng.py), argmax with ties, Gumbel-max sampling with and without guidance, and the MaskGIT
// confidence + re-mask update including ties in confidence.
import { describe, expect, it } from 'vitest';
import { argmax, gumbelMaxSample, maskgitUpdate, randomUniform } from '../src/engine/ops/sampling';
import * as ref from '../src/engine/reference/sampling';
import { expectClose, expectEqualInts, freshSeed, getEngine, poison, randInt, randn, rng } from './gpu';

type Eng = Awaited<ReturnType<typeof getEngine>>;
function poisonNext(e: Eng, shape: number[], dtype: 'f32' | 'u32' = 'f32'): void {
  const p = e.empty(shape, dtype);
  poison(e, p);
  p.dispose();
}
const bits = (x: number): number => new Uint32Array(Float32Array.of(x).buffer)[0]!;

describe('rng', () => {
  it('hash32 / uniform match values from training/mmamba/rng.py', () => {
    // python: hash32(x) and float32 bits of uniform(seed, stream, index)
    expect(ref.hash32(0)).toBe(0);
    expect(ref.hash32(1)).toBe(1753845952);
    expect(ref.hash32(0xdeadbeef)).toBe(3861431939);
    expect(ref.hash32(123456789)).toBe(2834422664);
    expect(bits(ref.uniform(0, 0, 0))).toBe(0x33000000);
    expect(bits(ref.uniform(7, 2, 12345))).toBe(0x3d1799a8);
    expect(bits(ref.uniform(42, 23, 1023 * 1024 + 5))).toBe(0x3e3fe0aa);
    expect(bits(ref.uniform(0xffffffff, 1, 99))).toBe(0x3e76e192);
  });

  it('WGSL hash32 / uniform are bit-exact with the TypeScript reference', async () => {
    const e = await getEngine();
    for (const n of [1, 300, 5000]) {
      const seed = freshSeed();
      const stream = seed % 25;
      poisonNext(e, [n], 'u32');
      const { hash, u } = randomUniform(e, n, seed, stream);
      const key = ref.rngKey(seed, stream);
      const wantH = Uint32Array.from({ length: n }, (_, i) => ref.hash32(i ^ key));
      const wantU = Float32Array.from({ length: n }, (_, i) => ref.uniformFromKey(key, i));
      expectEqualInts(await e.read(hash), wantH, `hash n=${n} seed=${seed}`);
      expectEqualInts(
        new Uint32Array((await e.readF32(u)).buffer),
        new Uint32Array(wantU.buffer),
        `uniform bits n=${n} seed=${seed}`,
      );
    }
  });
});

describe('argmax', () => {
  it('returns the first index of the maximum', async () => {
    const e = await getEngine();
    for (const [R, K] of [
      [1, 1],
      [3, 7],
      [5, 1024],
      [2, 1500],
    ] as const) {
      const seed = freshSeed();
      const x = randn(R * K, seed, -5, 5);
      const r = rng(seed + 1);
      for (let row = 0; row < R; row++) {
        // plant a tie for the maximum at two positions; the lower one must win
        const [i, j] = [Math.floor(r() * K), Math.floor(r() * K)];
        x[row * K + i] = 9;
        x[row * K + j] = 9;
      }
      poisonNext(e, [R], 'u32');
      const { index, value } = argmax(e, e.fromArray([R, K], x));
      expectEqualInts(await e.read(index), ref.argmaxRef(x, K), `argmax R=${R} K=${K} seed=${seed}`);
      expect(Array.from(await e.readF32(value)).every((v) => v === 9)).toBe(true);
    }
  });
});

describe('gumbelMaxSample', () => {
  // Tokens: exact, except where the reference's best and second-best perturbed scores are closer than 1e-4 (the
  // GPU's f32 log is a few ulp away from f64, which can flip a near-tie; at K = 1024 such rows are rare).
  // logp: log-softmax through an f32 max/sum reduction over K ≤ 1024: 1e-5 of the largest |logp|.
  for (const guidance of [undefined, 3.5])
    it(`matches the reference, guidance=${guidance}`, async () => {
      const e = await getEngine();
      for (const [B, HW, K, temperature] of [
        [1, 1, 1, 1],
        [2, 5, 1024, 1],
        [1, 37, 100, 0.7],
      ] as const) {
        const seed = freshSeed();
        const rows = guidance === undefined ? B : 2 * B;
        const logits = randn(rows * HW * K, seed, -4, 4);
        const stream = 2 * (seed % 12);
        poisonNext(e, [B, HW], 'u32');
        const got = gumbelMaxSample(e, e.fromArray([rows, HW, K], logits), { seed, stream, temperature, guidance });
        const want = ref.gumbelMaxSampleRef(logits, K, { seed, stream, temperature, guidance });
        const tok = await e.read(got.tokens);
        const logp = await e.readF32(got.logp);
        let flips = 0;
        for (let r = 0; r < B * HW; r++)
          if (tok[r] !== want.tokens[r]) {
            if (want.margin[r]! >= 1e-4)
              throw new Error(`row ${r}: token ${tok[r]} vs ${want.tokens[r]} (margin ${want.margin[r]}) seed=${seed}`);
            flips++;
            logp[r] = want.logp[r]!; // compare logp only where the same token was drawn
          }
        expect(flips).toBeLessThanOrEqual(1);
        expectClose(logp, want.logp, 1e-5, `logp B=${B} HW=${HW} K=${K} seed=${seed}`);
      }
    });

  it('draws tokens with the softmax frequencies', async () => {
    // 1024 positions over K = 4 logits: each count is within 5 sigma of 1024·p_k (a biased Gumbel or index would fail)
    const e = await getEngine();
    const HW = 1024;
    const K = 4;
    const row = [0, 1, -1, 0.5];
    const logits = Float32Array.from({ length: HW * K }, (_, i) => row[i % K]!);
    const { tokens } = gumbelMaxSample(e, e.fromArray([1, HW, K], logits), { seed: freshSeed(), stream: 0 });
    const t = await e.read(tokens);
    const z = row.reduce((s, v) => s + Math.exp(v), 0);
    for (let k = 0; k < K; k++) {
      const p = Math.exp(row[k]!) / z;
      const count = t.filter((v) => v === k).length;
      expect(Math.abs(count - HW * p)).toBeLessThan(5 * Math.sqrt(HW * p * (1 - p)));
    }
  });
});

describe('maskgitUpdate', () => {
  // conf = logp + f32 factor · gumbel; the kernel's gumbel is accurate to ~1e-6 absolute (neg_log_u), so conf is
  // within ~5e-6 of the f64 reference at |conf| ~ 30: 2e-6 of the largest |conf| (finite entries only). A plain f32
  // log(u) near u = 1 (only 2^-21 absolute in WGSL) fails this at these sizes.
  // Tokens: exact (random continuous confidences are never within a few ulp of each other at these sizes).
  const cases: Array<[number, number, number, number, number]> = [
    // B, HW, step, steps, tau
    [1, 1, 0, 12, 4.5],
    [2, 37, 0, 12, 4.5],
    [2, 256, 3, 12, 4.5],
    [3, 300, 10, 12, 4.5],
    [4, 1024, 0, 12, 4.5],
    [2, 256, 2, 6, 0], // tau = 0: conf = logp, quantised below so that ties are decided by index
  ];
  for (const [B, HW, step, steps, tau] of cases)
    it(`B=${B} HW=${HW} step=${step}/${steps} tau=${tau}`, async () => {
      const e = await getEngine();
      const seed = freshSeed();
      const maskId = 1024;
      const known = randInt(B * HW, seed, 1024);
      const r = rng(seed + 1);
      const maskFrac = 1 - step / steps;
      const tokens = known.map((v) => (r() < maskFrac ? maskId : v));
      if (B * HW > 1) tokens[1] = maskId;
      const sampled = randInt(B * HW, seed + 2, 1024);
      const logp = randn(B * HW, seed + 3, -6, 0);
      if (tau === 0) for (let i = 0; i < logp.length; i++) logp[i] = Math.round(logp[i]!); // many exact ties
      const o = { seed, step, steps, tau, maskId };
      poisonNext(e, [B, HW], 'u32');
      const got = maskgitUpdate(
        e,
        e.fromArray([B, HW], tokens, 'u32'),
        e.fromArray([B, HW], sampled, 'u32'),
        e.fromArray([B, HW], logp),
        o,
      );
      const want = ref.maskgitUpdateRef(tokens, sampled, logp, { ...o, B, HW });
      expectEqualInts(await e.read(got.tokens), want.tokens, `tokens seed=${seed}`);
      const conf = await e.readF32(got.conf);
      const fin = (a: Float32Array) => a.map((v) => (Number.isFinite(v) ? v : 0));
      expect(Array.from(conf).map(Number.isFinite)).toEqual(Array.from(want.conf).map(Number.isFinite));
      expectClose(fin(conf), fin(want.conf), 2e-6, `conf seed=${seed}`);
    });
});

describe('per-row seeds and a partial schedule', () => {
  // With one seed per batch row, row b must draw exactly what a batch-1 call with seed b draws (the variations of
  // src/model/sampler.ts rely on it); the reference checks the kernels' per-row key and counter choice.
  it('gumbelMaxSample: row b equals a batch-1 draw with its seed', async () => {
    const e = await getEngine();
    for (const guidance of [undefined, 2.5]) {
      const seed = freshSeed();
      const [B, HW, K] = [3, 9, 50];
      const seeds = [seed, seed + 1, (seed ^ 0xabcdef) >>> 0];
      const rows = guidance === undefined ? B : 2 * B;
      const logits = randn(rows * HW * K, seed, -4, 4);
      const stream = 2 * (seed % 12);
      const got = await e.read(
        gumbelMaxSample(e, e.fromArray([rows, HW, K], logits), { seed: seeds, stream, guidance }).tokens,
      );
      const want = ref.gumbelMaxSampleRef(logits, K, { seed: seeds, stream, guidance, HW });
      expectEqualInts(got, want.tokens, `per-row tokens guidance=${guidance} seed=${seed}`);
      for (let b = 0; b < B; b++) {
        const one = new Float32Array((guidance === undefined ? 1 : 2) * HW * K);
        one.set(logits.subarray(b * HW * K, (b + 1) * HW * K));
        if (guidance !== undefined) one.set(logits.subarray((B + b) * HW * K, (B + b + 1) * HW * K), HW * K);
        const single = gumbelMaxSample(e, e.fromArray([one.length / K / HW, HW, K], one), {
          seed: seeds[b]!,
          stream,
          guidance,
        });
        expectEqualInts(
          await e.read(single.tokens),
          got.subarray(b * HW, (b + 1) * HW),
          `row ${b} vs batch 1, seed=${seed}`,
        );
      }
    }
  });

  it('maskgitUpdate: per-row seeds and the schedule over `masked` positions', async () => {
    const e = await getEngine();
    for (const [B, HW, step, steps, masked] of [
      [2, 64, 1, 6, 20],
      [3, 37, 0, 4, 37],
      [1, 256, 2, 8, 100],
    ] as const) {
      const seed = freshSeed();
      const maskId = 1024;
      const r = rng(seed + 1);
      // the same `masked` positions unknown in every row (as inpainting keeps the rest fixed from step 0), fewer after
      // step 0
      const order = Array.from({ length: HW }, (_, p) => p).sort(() => r() - 0.5);
      const unknownSet = new Set(order.slice(0, step === 0 ? masked : Math.max(1, Math.floor(masked * 0.6))));
      const known = randInt(B * HW, seed, 1024);
      const tokens = known.map((v, i) => (unknownSet.has(i % HW) ? maskId : v));
      const sampled = randInt(B * HW, seed + 2, 1024);
      const logp = randn(B * HW, seed + 3, -6, 0);
      const seeds = Array.from({ length: B }, (_, b) => (seed + 7 * b) >>> 0);
      const o = { seed: seeds, step, steps, tau: 4.5, maskId, masked };
      const got = maskgitUpdate(
        e,
        e.fromArray([B, HW], tokens, 'u32'),
        e.fromArray([B, HW], sampled, 'u32'),
        e.fromArray([B, HW], logp),
        o,
      );
      const want = ref.maskgitUpdateRef(tokens, sampled, logp, { ...o, B, HW });
      const all = await e.read(got.tokens);
      expectEqualInts(all, want.tokens, `tokens B=${B} HW=${HW} masked=${masked} seed=${seed}`);
      const stillMasked = Array.from(want.tokens.subarray(0, HW)).filter((t) => t === maskId).length;
      expect(stillMasked).toBe(Math.max(0, Math.min(ref.nMaskAfterStep(step, steps, masked), unknownSet.size - 1)));
      for (let b = 0; b < B; b++) {
        const sl = (a: ArrayLike<number>) => Array.from(a).slice(b * HW, (b + 1) * HW);
        const single = maskgitUpdate(
          e,
          e.fromArray([1, HW], sl(tokens), 'u32'),
          e.fromArray([1, HW], sl(sampled), 'u32'),
          e.fromArray([1, HW], sl(logp)),
          {
            ...o,
            seed: seeds[b]!,
          },
        );
        expectEqualInts(
          await e.read(single.tokens),
          all.subarray(b * HW, (b + 1) * HW),
          `row ${b} vs batch 1, seed=${seed}`,
        );
      }
    }
  });
});
