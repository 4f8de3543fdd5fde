// The editing mask on the token grid (g×g, row-major), DOM-free: 1 = re-generate that token, 0 = keep it. What the
// mask editor (mask_editor.ts) paints, and how it becomes the engine's `keep` (1 = keep, the opposite sense).

/** A g×g mask with nothing marked. */
export function emptyMask(g: number): Uint8Array {
  return new Uint8Array(g * g);
}

/** Grid cell under a point of a w×h element showing the grid (clamped to the grid). */
export function cellAt(x: number, y: number, w: number, h: number, g: number): { col: number; row: number } {
  const clamp = (v: number) => Math.min(g - 1, Math.max(0, Math.floor(v)));
  return { col: clamp((x / w) * g), row: clamp((y / h) * g) };
}

/** A copy of `mask` with a square brush of side `size` (cells) centred on (col, row) set to `value`. */
export function brush(mask: Uint8Array, g: number, col: number, row: number, size: number, value: 0 | 1): Uint8Array {
  const out = mask.slice();
  const lo = -Math.floor((size - 1) / 2);
  for (let dy = lo; dy < lo + size; dy++)
    for (let dx = lo; dx < lo + size; dx++) {
      const c = col + dx;
      const r = row + dy;
      if (c >= 0 && c < g && r >= 0 && r < g) out[r * g + c] = value;
    }
  return out;
}

/** A copy of `mask` with the rectangle spanned by two cells (inclusive, any corner order) set to `value`. */
export function fillRect(
  mask: Uint8Array,
  g: number,
  a: { col: number; row: number },
  b: { col: number; row: number },
  value: 0 | 1,
): Uint8Array {
  const out = mask.slice();
  for (let r = Math.min(a.row, b.row); r <= Math.max(a.row, b.row); r++)
    for (let c = Math.min(a.col, b.col); c <= Math.max(a.col, b.col); c++)
      if (c >= 0 && c < g && r >= 0 && r < g) out[r * g + c] = value;
  return out;
}

/** Marked ↔ unmarked. */
export function invertMask(mask: Uint8Array): Uint8Array {
  return Uint8Array.from(mask, (m) => (m ? 0 : 1));
}

export function markedCount(mask: Uint8Array): number {
  return mask.reduce((s, m) => s + (m ? 1 : 0), 0);
}

/** The engine's `keep` for a painted mask: 1 = keep; `unknown` (1 where the source token is still [MASK], e.g. an
 *  unfinished step) is always re-generated. */
export function keepFromMask(mask: Uint8Array, unknown?: Uint8Array): Uint8Array {
  return Uint8Array.from(mask, (m, i) => (m || unknown?.[i] ? 0 : 1));
}
