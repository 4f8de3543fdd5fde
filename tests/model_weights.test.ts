// safetensors parsing and the weights loader (src/model/safetensors.ts, weights.ts): the f32 fixtures load
// bit-exactly, the shipped int8/f16 models load and dequantise, and malformed files throw WeightIntegrityError.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WeightIntegrityError } from '../src/engine/errors';
import { f16ToF32, parseSafetensors } from '../src/model/safetensors';
import { loadWeights, type Manifest } from '../src/model/weights';
import { readSafetensors } from './golden_io';

const root = resolve(__dirname, '..');
const bytesOf = (p: string): ArrayBuffer => {
  const b = readFileSync(resolve(root, p));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};
const manifestOf = (dir: string) => JSON.parse(readFileSync(resolve(root, dir, 'manifest.json'), 'utf8')) as Manifest;
const shardsOf = (dir: string, m: Manifest) => m.shards.map((s) => bytesOf(`${dir}/${s.file}`));

// every model public/models/index.json lists (a newly shipped model is loaded here without editing this file)
const shippedIds = (
  JSON.parse(readFileSync(resolve(root, 'public/models/index.json'), 'utf8')) as { models: Array<{ id: string }> }
).models.map((m) => m.id);

/** A safetensors file from a header object and a data section. */
function build(header: unknown, data: Uint8Array, hlenOverride?: number): ArrayBuffer {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(hlenOverride ?? h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out.buffer;
}

describe('safetensors + loadWeights', () => {
  it('f16 widening is exact', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(f16ToF32(0x7e00))).toBe(true);
  });

  for (const fx of ['mmamba_tiny', 'uvit_tiny', 'vq_tiny'])
    it(`loads the ${fx} fixture exactly like the reference reader`, () => {
      const dir = `tests/fixtures/${fx}`;
      const m = manifestOf(dir);
      const w = loadWeights(m, shardsOf(dir, m));
      const want = readSafetensors(resolve(root, dir, 'model-00000.safetensors'));
      expect(w.size).toBe(want.size);
      for (const [name, t] of want) {
        expect(w.get(name)!.shape).toEqual(t.shape);
        expect(w.get(name)!.data).toEqual(t.data);
      }
    });

  it('index.json lists shipped models to load (the loop below is not empty)', () => {
    expect(shippedIds.length).toBeGreaterThanOrEqual(2);
  });

  for (const id of shippedIds)
    it(`loads the shipped ${id} (f16 + int8 per-row scales, every shard)`, () => {
      const dir = `public/models/${id}`;
      const m = manifestOf(dir);
      const shards = shardsOf(dir, m);
      const w = loadWeights(m, shards);
      const scales = Object.values(m.tensors).filter((t) => t.scale).length;
      expect(w.size).toBe(Object.keys(m.tensors).length - scales);
      for (const [name, t] of w) {
        expect(t.shape).toEqual(m.tensors[name]!.shape);
        expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        expect(t.data.every(Number.isFinite)).toBe(true);
      }
      // int8: w[r, c] = q[r, c] · scale[r], spot-checked from the raw shard
      const q8 = Object.entries(m.tensors).find(([, t]) => t.dtype === 'int8');
      if (q8) {
        const [name, t] = q8;
        const raw = parseSafetensors(shards[t.shard]!).tensors;
        const q = new Int8Array(raw.get(name)!.bytes.buffer);
        const s = new Uint16Array(raw.get(t.scale!)!.bytes.buffer);
        const cols = q.length / t.shape[0]!;
        for (const i of [0, 1, q.length - 1])
          expect(w.get(name)!.data[i]).toBe(Math.fround(q[i]! * f16ToF32(s[Math.floor(i / cols)]!)));
      }
    });

  it('rejects malformed files with WeightIntegrityError', () => {
    const good = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    expect(parseSafetensors(build(good, new Uint8Array(8))).tensors.get('a')!.shape).toEqual([2]);
    const bad: Array<[string, ArrayBuffer]> = [
      ['too short', new ArrayBuffer(4)],
      ['header past the end', build(good, new Uint8Array(8), 1 << 20)],
      [
        'not JSON',
        (() => {
          const b = new Uint8Array(build(good, new Uint8Array(8)));
          b[8] = 0x7b;
          b[9] = 0x7b;
          return b.buffer;
        })(),
      ],
      ['data past the end', build({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8))],
      ['length/shape mismatch', build({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8))],
      ['unknown dtype', build({ a: { dtype: 'BF16', shape: [4], data_offsets: [0, 8] } }, new Uint8Array(8))],
      ['bad shape', build({ a: { dtype: 'I8', shape: [-8], data_offsets: [0, 8] } }, new Uint8Array(8))],
      ['reversed offsets', build({ a: { dtype: 'I8', shape: [0], data_offsets: [8, 0] } }, new Uint8Array(8))],
      [
        'overlap',
        build(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
          },
          new Uint8Array(8),
        ),
      ],
    ];
    for (const [what, buf] of bad) expect(() => parseSafetensors(buf, what), what).toThrow(WeightIntegrityError);
  });

  it('rejects shards that do not match the manifest', () => {
    const dir = 'tests/fixtures/mmamba_tiny';
    const m = manifestOf(dir);
    const [shard] = shardsOf(dir, m);
    expect(() => loadWeights(m, [])).toThrow(WeightIntegrityError);
    expect(() => loadWeights(m, [shard!.slice(0, shard!.byteLength - 4)])).toThrow(WeightIntegrityError);
    const wrongShape = structuredClone(m);
    wrongShape.tensors['head.bias']!.shape = [3];
    expect(() => loadWeights(wrongShape, [shard!])).toThrow(WeightIntegrityError);
    const missing = structuredClone(m);
    missing.tensors.nope = { shape: [1], dtype: 'f32', shard: 0 };
    expect(() => loadWeights(missing, [shard!])).toThrow(WeightIntegrityError);
    expect(() => loadWeights({ ...m, formatVersion: 2 }, [shard!])).toThrow(WeightIntegrityError);
  });
});
