// Multi-head scaled dot-product attention (shaders/attention.wgsl), matching training/mmamba/common.py Attention:
// softmax scale 1/sqrt(Dh), optional key padding mask (B, Lk) (u32, nonzero = attend; the text key_mask).
// The kernel reads strided views, so the packed projections of the models are used in place:
//   self-attention:  qkv = Linear(x) (B, L, 3·d), chunked [q ; k ; v] along the last dim, heads h·Dh..(h+1)·Dh
//   cross-attention: q = Linear(x) (B, Lq, d), kv = Linear(ctx) (B, Lk, 2·d) chunked [k ; v]
// and the output comes back as (B, Lq, d) = transpose(1, 2).reshape of PyTorch's (B, h, Lq, Dh), ready for `out`.
import source from '../../../shaders/attention.wgsl?raw';
import { uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

/** Element (b, h, l, d) at off + b·sb + h·sh + l·sl + d. */
interface View {
  off: number;
  sb: number;
  sh: number;
  sl: number;
}

export interface AttentionOptions {
  /** u32 (B, Lk), nonzero = attend. Rows with every key masked give 0. */
  mask?: Tensor | null;
  /** Defaults to 1/sqrt(Dh). */
  scale?: number;
  label?: string;
}

const codeFor = new Map<number, string>();
function shader(dh: number): string {
  let c = codeFor.get(dh);
  if (!c) {
    // keys per tile: 1024/Dh rounded down to a multiple of the 4 threads of a row, at most 32 (K and V tiles stay
    // under 9 KiB of workgroup memory)
    const bkv = Math.max(4, Math.floor(Math.min(32, 1024 / dh) / 4) * 4);
    c = source.replace('/*DH4*/16u', `${dh / 4}u`).replace('/*BKV*/32u', `${bkv}u`);
    codeFor.set(dh, c);
  }
  return c;
}

interface Job {
  B: number;
  H: number;
  Lq: number;
  Lk: number;
  Dh: number;
  q: [Tensor, View];
  k: [Tensor, View];
  v: [Tensor, View];
  o: View;
  outShape: number[];
}

function attend(e: Engine, j: Job, opts: AttentionOptions): Tensor {
  const label = opts.label ?? 'attention';
  if (j.Dh % 4 !== 0 || j.Dh === 0 || j.Dh > 256)
    throw new ShapeError(`${label}: head dim ${j.Dh} must be a multiple of 4, at most 256`);
  for (const [t] of [j.q, j.k, j.v]) if (t.dtype !== 'f32') throw new ShapeError(`${label}: ${t} must be f32`);
  const mask = opts.mask ?? null;
  if (mask && (mask.dtype !== 'u32' || mask.size !== j.B * j.Lk))
    throw new ShapeError(`${label}: mask ${mask} must be u32 (B, Lk) = (${j.B}, ${j.Lk})`);
  const out = e.empty(j.outShape, 'f32', label);
  if (j.Lq === 0 || j.B === 0 || j.H === 0) return out;
  const BQ = 16; // query rows per workgroup (shaders/attention.wgsl)
  const views = [j.q[1], j.k[1], j.v[1], j.o].flatMap((w) => [w.off, w.sb, w.sh, w.sl]);
  e.dispatch({
    code: shader(j.Dh),
    constants: { HAS_MASK: mask ? 1 : 0 },
    bindings: [
      uniforms([...views, j.H, j.Lq, j.Lk, [opts.scale ?? 1 / Math.sqrt(j.Dh), 'f32']]),
      j.q[0],
      j.k[0],
      j.v[0],
      mask ?? j.q[0], // never read when HAS_MASK = 0
      out,
    ],
    workgroups: [Math.ceil(j.Lq / BQ), j.H, j.B],
    label,
  });
  return out;
}

/** q: (B, H, Lq, Dh); k, v: (B, H, Lk, Dh). Returns (B, H, Lq, Dh). */
export function attention(e: Engine, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  if (q.shape.length !== 4 || k.shape.length !== 4 || v.shape.length !== 4)
    throw new ShapeError(`attention: want (B, H, L, Dh) tensors, got ${q}, ${k}, ${v}`);
  const [B, H, Lq, Dh] = q.shape as [number, number, number, number];
  const Lk = k.shape[2]!;
  if (k.shape.join() !== [B, H, Lk, Dh].join() || v.shape.join() !== k.shape.join())
    throw new ShapeError(`attention: k ${k} and v ${v} must both be (B, H, Lk, Dh) = (${B}, ${H}, Lk, ${Dh})`);
  const view = (L: number): View => ({ off: 0, sb: H * L * Dh, sh: L * Dh, sl: Dh });
  return attend(
    e,
    { B, H, Lq, Lk, Dh, q: [q, view(Lq)], k: [k, view(Lk)], v: [v, view(Lk)], o: view(Lq), outShape: [B, H, Lq, Dh] },
    opts,
  );
}

/** Self-attention on the packed projection qkv (B, L, 3·d) = [q ; k ; v] with `heads` heads. Returns (B, L, d). */
export function selfAttentionPacked(e: Engine, qkv: Tensor, heads: number, opts: AttentionOptions = {}): Tensor {
  if (qkv.shape.length !== 3 || qkv.shape[2]! % (3 * heads) !== 0)
    throw new ShapeError(`selfAttentionPacked: qkv must be (B, L, 3·d) with d divisible by heads=${heads}, got ${qkv}`);
  const [B, L, d3] = qkv.shape as [number, number, number];
  const d = d3 / 3;
  const Dh = d / heads;
  const view = (off: number): View => ({ off, sb: L * d3, sh: Dh, sl: d3 });
  const o: View = { off: 0, sb: L * d, sh: Dh, sl: d };
  return attend(
    e,
    {
      B,
      H: heads,
      Lq: L,
      Lk: L,
      Dh,
      q: [qkv, view(0)],
      k: [qkv, view(d)],
      v: [qkv, view(2 * d)],
      o,
      outShape: [B, L, d],
    },
    opts,
  );
}

/** Cross-attention: q (B, Lq, d) against the packed kv (B, Lk, 2·d) = [k ; v]. Returns (B, Lq, d). */
export function crossAttentionPacked(
  e: Engine,
  q: Tensor,
  kv: Tensor,
  heads: number,
  opts: AttentionOptions = {},
): Tensor {
  if (q.shape.length !== 3 || kv.shape.length !== 3 || q.shape[2]! % heads !== 0)
    throw new ShapeError(`crossAttentionPacked: want q (B, Lq, d) and kv (B, Lk, 2·d), got ${q}, ${kv}`);
  const [B, Lq, d] = q.shape as [number, number, number];
  const Lk = kv.shape[1]!;
  if (kv.shape[0] !== B || kv.shape[2] !== 2 * d)
    throw new ShapeError(`crossAttentionPacked: kv ${kv} must be (B, Lk, 2·d) = (${B}, Lk, ${2 * d})`);
  const Dh = d / heads;
  const qv: View = { off: 0, sb: Lq * d, sh: Dh, sl: d };
  const kvv = (off: number): View => ({ off, sb: Lk * 2 * d, sh: Dh, sl: 2 * d });
  return attend(
    e,
    { B, H: heads, Lq, Lk, Dh, q: [q, qv], k: [kv, kvv(0)], v: [kv, kvv(d)], o: qv, outShape: [B, Lq, d] },
    opts,
  );
}
