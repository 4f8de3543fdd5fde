// Image-to-image strength → keep-mask: strength s in [0, 1] re-masks round(s·HW) of a picture's HW tokens, the rest
// stay fixed (1 = keep), and generation unmasks the re-masked ones as an edit (src/model/sampler.ts startGrid).
// Which tokens are re-masked (`Remask`, the same rules as training/mmamba/sampling.py strength_keep):
// - 'random': chosen by the seed (a partial Fisher–Yates shuffle driven by a mulberry32 stream): the same strength,
//   seed and grid size always give the same mask;
// - 'confidence': the tokens the model finds least likely given the prompt, from one batch-2 forward (row 0 masks
//   the checkerboard cells with (r + c) even, row 1 the odd ones; a token's score is its log-probability in the row
//   where it is masked). The scores come from the pipeline (pipeline.ts); keepFromScores picks the lowest.
// DEFAULT_REMASK is the one measured better (docs/evaluation.md "Image-to-image: which tokens to re-mask").
// Tokens that are not codebook ids ([MASK] of an unfinished step) are never kept, whatever the choice.
// Edges: s = 0 re-masks nothing and s = 1 everything; neither is an edit (the engine refuses an all-keep mask and
// draws a plain generation for an all-generate one).
import type { Remask } from './settings';

/** The choice the page and the engine use when a request names none (measured: docs/evaluation.md). */
export const DEFAULT_REMASK: Remask = 'random';

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

/** (2·HW) 1 where each of the two rows of the confidence pass masks the cell: row 0 the cells with (r + c) even,
 *  row 1 the odd ones. */
export function checkerboardRows(grid: number): Uint8Array {
  const hw = grid * grid;
  const rows = new Uint8Array(2 * hw);
  for (let r = 0; r < grid; r++)
    for (let c = 0; c < grid; c++) {
      const even = (r + c) % 2 === 0 ? 1 : 0;
      rows[r * grid + c] = even;
      rows[hw + r * grid + c] = 1 - even;
    }
  return rows;
}

/** (hw) keep-mask re-masking the maskedCountForStrength(hw, strength) lowest `scores` (ties: lower index first). */
export function keepFromScores(scores: ArrayLike<number>, strength: number): Uint8Array {
  const hw = scores.length;
  const order = Array.from({ length: hw }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]! || a - b);
  const keep = new Uint8Array(hw).fill(1);
  for (const p of order.slice(0, maskedCountForStrength(hw, strength))) keep[p] = 0;
  return keep;
}

/** `keep` with every position whose token is not a codebook id (< codebookSize) set to 0 (re-generate). */
export function keepOnlyCodes(keep: Uint8Array, tokens: ArrayLike<number>, codebookSize: number): Uint8Array {
  return keep.map((k, p) => (k && tokens[p]! < codebookSize ? 1 : 0));
}
