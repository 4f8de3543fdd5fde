// Minimal safetensors reader for the golden fixtures (tests/fixtures/README.md): F32 and I32 tensors only.
import { readFileSync } from 'node:fs';

export interface Named {
  shape: number[];
  data: Float32Array | Int32Array;
}

export function readSafetensors(path: string): Map<string, Named> {
  const buf = readFileSync(path);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, Named>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = t.data_offsets;
    const raw = bytes.slice(8 + hlen + a, 8 + hlen + b); // copy: aligned for the typed array
    if (t.dtype === 'F32') out.set(name, { shape: t.shape, data: new Float32Array(raw.buffer) });
    else if (t.dtype === 'I32') out.set(name, { shape: t.shape, data: new Int32Array(raw.buffer) });
    else throw new Error(`${path}: ${name} has dtype ${t.dtype} (F32/I32 only)`);
  }
  return out;
}

export function f32(m: Map<string, Named>, name: string): Float32Array {
  const t = m.get(name);
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`fixture has no F32 tensor ${name}`);
  return t.data;
}
