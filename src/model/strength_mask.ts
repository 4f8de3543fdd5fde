// Image-to-image strength → keep-mask: strength s in [0, 1] re-masks round(s·HW) of a picture's HW tokens, the rest
// stay fixed (1 = keep), and generation unmasks the re-masked ones as an edit (src/model/sampler.ts startGrid).
// Which tokens are re-masked is chosen at random by the seed (a partial Fisher–Yates shuffle driven by a
// mulberry32 stream): the same strength, seed and grid size always give the same mask. A choice by the model's own
// confidence (re-mask the tokens it finds least likely) is not implemented yet.
// Edges: s = 0 re-masks nothing and s = 1 everything; neither is an edit (the engine refuses an all-keep and an
// all-generate mask), so callers show the picture as it is for 0 and draw a plain generation for 1.

/** How many of `hw` tokens strength `strength` re-masks (strength clamped to [0, 1]). */
export function maskedCountForStrength(hw: number, strength: number): number {
  const s = Number.isFinite(strength) ? Math.min(1, Math.max(0, strength)) : 0;
  return Math.round(s * hw);
}

/** mulberry32: a small, fast u32 → [0, 1) stream; enough to pick positions, not for anything secret. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** (hw) keep-mask of an image-to-image edit: exactly maskedCountForStrength(hw, strength) zeros (re-generate),
 *  at positions chosen by `seed`; ones elsewhere (keep). */
export function keepForStrength(hw: number, strength: number, seed: number): Uint8Array {
  const keep = new Uint8Array(hw).fill(1);
  const n = maskedCountForStrength(hw, strength);
  const order = Array.from({ length: hw }, (_, i) => i);
  const rand = mulberry32(seed);
  // The first n places of a Fisher–Yates shuffle: n distinct positions, each set equally likely.
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rand() * (hw - i));
    [order[i], order[j]] = [order[j]!, order[i]!];
    keep[order[i]!] = 0;
  }
  return keep;
}
