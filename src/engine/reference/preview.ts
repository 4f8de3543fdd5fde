// CPU references for shaders/preview.wgsl: the codebook gather with a neutral code for non-codebook ids, and the
// RGBA8 + token packing. f32 roundings are explicit (Math.fround) so the kernel can be compared exactly.

/** tokens (B·HW), codes (K·D) → z (B, D, HW). */
export function embedCodesRef(
  tokens: Uint32Array,
  codes: Float32Array,
  D: number,
  HW: number,
  neutral: number,
): Float32Array {
  const K = codes.length / D;
  const B = tokens.length / HW;
  const z = new Float32Array(B * D * HW);
  for (let b = 0; b < B; b++)
    for (let p = 0; p < HW; p++) {
      const t = tokens[b * HW + p]!;
      const k = t < K ? t : neutral;
      for (let j = 0; j < D; j++) z[(b * D + j) * HW + p] = codes[k * D + j]!;
    }
  return z;
}

/** Round half to even (WGSL round, torch.round). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** One channel value → 0..255, in f32 arithmetic: round((clamp(x, −1, 1) + 1)·127.5). */
export const levelRef = (x: number): number =>
  roundHalfEven(Math.fround(Math.fround(Math.min(1, Math.max(-1, x)) + 1) * 127.5));

/** images (B, 3, S, S), tokens → u32 words: RGBA8 per pixel (byte 0 = R, alpha 255), then the tokens. */
export function packPreviewRef(images: Float32Array, S: number, tokens: Uint32Array): Uint32Array {
  const S2 = S * S;
  const B = images.length / (3 * S2);
  const out = new Uint32Array(B * S2 + tokens.length);
  for (let b = 0; b < B; b++)
    for (let p = 0; p < S2; p++) {
      const at = (ch: number) => levelRef(images[(b * 3 + ch) * S2 + p]!);
      out[b * S2 + p] = (at(0) | (at(1) << 8) | (at(2) << 16) | (255 << 24)) >>> 0;
    }
  out.set(tokens, B * S2);
  return out;
}
