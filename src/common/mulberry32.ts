// mulberry32: a tiny seeded PRNG for randomness that is not part of the model's numerics (batch order, test and
// benchmark inputs). The sampler and the fine-tuning masks use the shared counter RNG of docs/architecture.md
// instead, which PyTorch reproduces; this one only has to be deterministic for a seed.

/** A generator of uniform floats in [0, 1), fully determined by `seed`. */
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
