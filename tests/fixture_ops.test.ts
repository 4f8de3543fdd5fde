// The ops composed as the PyTorch models use them, against the golden fixture tests/fixtures/uvit_tiny (written by
// training/make_fixtures.py): this pins the layouts the TS models rely on — packed qkv chunked [q ; k ; v] with
// heads contiguous inside each chunk, the key padding mask, LayerNorm/RMSNorm eps and affine, Linear = x·W^T + b.
//   text encoder (training/mmamba/text_encoder.py): tok_emb + pos_emb → pre-LN block (self-attention with the pad
//   mask, GELU-tanh MLP) → LayerNorm → proj  ==  stage.text_tokens
//   UViT head (uvit.py): head(head_norm(layer0))  ==  stage.logits
import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import type { Engine } from '../src/engine/engine';
import { add, gelu } from '../src/engine/ops/elementwise';
import { embedding } from '../src/engine/ops/embedding';
import { linear } from '../src/engine/ops/matmul';
import { layerNorm, rmsNorm } from '../src/engine/ops/norm';
import { selfAttentionPacked } from '../src/engine/ops/attention';
import type { Tensor } from '../src/engine/tensor';
import { expectClose, getEngine } from './gpu';

// The fixture README suggests 1e-4 relative for forward stages: PyTorch (CPU, f32) and the GPU sum in different
// orders; a layout mistake (wrong chunk, head or mask) gives O(1) errors.
const TOL = 1e-4;

interface StArray {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Minimal safetensors reader (u64 LE header length, JSON header, raw little-endian data); F32 and I32 only. */
function readSafetensors(path: string): Map<string, StArray> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, StArray>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = h.data_offsets;
    const bytes = new Uint8Array(buf.subarray(8 + n + a, 8 + n + b)).slice().buffer; // copy: aligned
    if (h.dtype === 'F32') out.set(name, { shape: h.shape, data: new Float32Array(bytes) });
    else if (h.dtype === 'I32') out.set(name, { shape: h.shape, data: new Int32Array(bytes) });
  }
  return out;
}

describe('ops against the uvit_tiny PyTorch fixture', () => {
  const dir = 'tests/fixtures/uvit_tiny';
  const weights = readSafetensors(`${dir}/model-00000.safetensors`);
  const arrays = readSafetensors(`${dir}/arrays.safetensors`);
  const cfg = (
    JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8')) as { config: { text: { heads: number; pad_id: number } } }
  ).config;

  const get = (m: Map<string, StArray>, name: string): StArray => {
    const a = m.get(name);
    if (!a) throw new Error(`fixture has no ${name}`);
    return a;
  };
  const w = (e: Engine, name: string): Tensor => {
    const a = get(weights, name);
    return e.fromArray(a.shape, a.data);
  };

  it('text encoder → stage.text_tokens', async () => {
    const e = await getEngine();
    const ids = get(arrays, 'input.text_ids'); // (B, Lt) i32
    const [B, Lt] = ids.shape as [number, number];
    const P = 'text.layers.0.';
    const tIds = e.fromArray([B, Lt], Uint32Array.from(ids.data), 'u32');
    const mask = e.fromArray(
      [B, Lt],
      Uint32Array.from(ids.data, (v) => (v !== cfg.text.pad_id ? 1 : 0)),
      'u32',
    );
    let x = add(e, embedding(e, tIds, w(e, 'text.tok_emb.weight')), w(e, 'text.pos_emb')); // (B, Lt, w)
    const n1 = layerNorm(e, x, { weight: w(e, `${P}norm1.weight`), bias: w(e, `${P}norm1.bias`) });
    const qkv = linear(e, n1, w(e, `${P}attn.qkv.weight`), w(e, `${P}attn.qkv.bias`)); // (B, Lt, 3w)
    const att = selfAttentionPacked(e, qkv, cfg.text.heads, { mask }); // (B, Lt, w)
    x = add(e, x, linear(e, att, w(e, `${P}attn.out.weight`), w(e, `${P}attn.out.bias`)));
    const n2 = layerNorm(e, x, { weight: w(e, `${P}norm2.weight`), bias: w(e, `${P}norm2.bias`) });
    const hid = gelu(e, linear(e, n2, w(e, `${P}mlp.0.weight`), w(e, `${P}mlp.0.bias`)));
    x = add(e, x, linear(e, hid, w(e, `${P}mlp.2.weight`), w(e, `${P}mlp.2.bias`)));
    const xn = layerNorm(e, x, { weight: w(e, 'text.norm.weight'), bias: w(e, 'text.norm.bias') });
    const tokens = linear(e, xn, w(e, 'text.proj.weight'), w(e, 'text.proj.bias')); // (B, Lt, d)
    const want = get(arrays, 'stage.text_tokens');
    if (tokens.shape.join() !== want.shape.join()) throw new Error(`shape ${tokens.shape} vs ${want.shape}`);
    expectClose(await e.readF32(tokens), want.data, TOL, 'stage.text_tokens');
  });

  it('UViT head → stage.logits', async () => {
    const e = await getEngine();
    const h = get(arrays, 'stage.layer0');
    const hn = rmsNorm(e, e.fromArray(h.shape, h.data), { weight: w(e, 'head_norm.weight') });
    const logits = linear(e, hn, w(e, 'head.weight'), w(e, 'head.bias'));
    expectClose(await e.readF32(logits), get(arrays, 'stage.logits').data, TOL, 'stage.logits');
  });
});
