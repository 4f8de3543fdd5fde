// The one home of the random-number generators production code uses (docs/architecture.md "Random numbers"):
// - the shared counter-based RNG (lowbias32 hash, uniform(seed, stream, index)) that the WGSL sampler
//   (shaders/sampling.wgsl) and PyTorch (training/mmamba/rng.py) reproduce bit for bit: the sampler's keys, the LoRA
//   init and the fine-tuning masks draw from it, so seeded images and golden tests depend on its exact outputs;
// - mulberry32, a small stateful PRNG for randomness that is not part of the model's numerics (batch order, test and
//   benchmark inputs); it only has to be deterministic for a seed.
// The CPU references in reference/ import these; production code never imports reference/ (tests/rng_home.test.ts).

/** lowbias32 (Chris Wellons' hash-prospector), u32 with wrap-around. */
export function hash32(x0: number): number {
  let x = x0 >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** The per-(seed, stream) key: hash32(seed ^ hash32(stream)). */
export const rngKey = (seed: number, stream: number): number => hash32((seed >>> 0) ^ hash32(stream >>> 0));

/** uniform from a key: ((hash32(index ^ key) >> 8) + 0.5) / 2^24, rounded to f32 as the GPU and PyTorch do. */
export const uniformFromKey = (key: number, index: number): number =>
  Math.fround(Math.fround(hash32((index >>> 0) ^ key) >>> 8) + 0.5) / 16777216;

/** uniform(seed, stream, index) in (0, 1] as an f32 value (1 only when the +0.5 rounds up at 2^24 − 1). */
export const uniform = (seed: number, stream: number, index: number): number =>
  uniformFromKey(rngKey(seed, stream), index);

/** mulberry32: a generator of uniform floats in [0, 1), fully determined by `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
