// Backward of self-attention on a packed projection (shaders/attention_backward.wgsl): given qkv (B, L, 3·d) =
// [q ; k ; v], the forward's output O (B, L, d), its gradient dO and the same key mask, returns dqkv (B, L, 3·d) in
// the same packed layout, ready for the qkv Linear's backward. Scores are recomputed; one thread per row, so it is
// meant for short sequences (the text encoder: 16 tokens), not for long image sequences.
import source from '../../../shaders/attention_backward.wgsl?raw';
import { uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';
import type { AttentionOptions } from './attention';

const codeFor = new Map<number, string>();
function shader(dh: number): string {
  let c = codeFor.get(dh);
  if (!c) {
    c = source.replace('/*DH4*/8u', `${dh / 4}u`);
    codeFor.set(dh, c);
  }
  return c;
}

/** dqkv (B, L, 3·d) of O = selfAttentionPacked(qkv, heads, {mask, scale}). */
export function selfAttentionPackedBackward(
  e: Engine,
  qkv: Tensor,
  out: Tensor,
  dOut: Tensor,
  heads: number,
  opts: AttentionOptions = {},
): Tensor {
  const label = opts.label ?? 'attention_backward';
  if (qkv.shape.length !== 3 || qkv.shape[2]! % (3 * heads) !== 0)
    throw new ShapeError(`${label}: qkv must be (B, L, 3·d) with d divisible by heads=${heads}, got ${qkv}`);
  const [B, L, d3] = qkv.shape as [number, number, number];
  const d = d3 / 3;
  const Dh = d / heads;
  if (Dh % 4 !== 0 || Dh > 128) throw new ShapeError(`${label}: head dim ${Dh} must be a multiple of 4, at most 128`);
  for (const t of [out, dOut])
    if (t.dtype !== 'f32' || t.shape.join() !== [B, L, d].join())
      throw new ShapeError(`${label}: ${t} must be f32 (B, L, d) = (${B}, ${L}, ${d})`);
  if (qkv.dtype !== 'f32') throw new ShapeError(`${label}: ${qkv} must be f32`);
  const mask = opts.mask ?? null;
  if (mask && (mask.dtype !== 'u32' || mask.size !== B * L))
    throw new ShapeError(`${label}: mask ${mask} must be u32 (B, L) = (${B}, ${L})`);
  const dqkv = e.empty([B, L, d3], 'f32', label);
  if (B === 0 || L === 0) return dqkv;
  const packed = (off: number) => [off, L * d3, Dh, d3];
  const plain = [0, L * d, Dh, d];
  const params = uniforms([
    ...packed(0),
    ...packed(d),
    ...packed(2 * d),
    ...plain,
    ...plain,
    ...packed(0),
    ...packed(d),
    ...packed(2 * d),
    heads,
    L,
    L,
    [opts.scale ?? 1 / Math.sqrt(Dh), 'f32'],
  ]);
  const stats = e.empty([B, heads, L, 2], 'f32', 'attention_backward_stats');
  for (const entry of ['rows', 'keys']) // `keys` reads the row statistics `rows` wrote
    e.dispatch({
      code: shader(Dh),
      entry,
      constants: { HAS_MASK: mask ? 1 : 0 },
      bindings: [params, qkv, out, dOut, mask ?? qkv, stats, dqkv],
      workgroups: [Math.ceil(L / 64), heads, B],
      label: `${label}_${entry}`,
    });
  stats.dispose(); // safe: the pool only hands it to work recorded later
  return dqkv;
}
