// Reads the golden fixtures' safetensors files (tests/fixtures/README.md) through the app's validated parser
// (src/model/safetensors.ts): F32 → Float32Array, I32 → Int32Array (the fixtures hold no other dtypes).
import { readFileSync } from 'node:fs';
import type { MaskedBatch } from '../src/finetune/mmamba_autodiff';
import { parseSafetensors } from '../src/model/safetensors';

export interface Named {
  shape: number[];
  data: Float32Array | Int32Array;
}

export function readSafetensors(path: string): Map<string, Named> {
  const b = readFileSync(path);
  const file = parseSafetensors(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer, path);
  const out = new Map<string, Named>();
  for (const [name, t] of file.tensors) {
    const buf = t.bytes.buffer as ArrayBuffer; // each tensor's bytes are their own aligned copy
    if (t.dtype === 'F32') out.set(name, { shape: t.shape, data: new Float32Array(buf) });
    else if (t.dtype === 'I32') out.set(name, { shape: t.shape, data: new Int32Array(buf) });
    else throw new Error(`${path}: ${name} has dtype ${t.dtype} (F32/I32 only)`);
  }
  return out;
}

export function f32(m: Map<string, Named>, name: string): Float32Array {
  const t = m.get(name);
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`fixture has no F32 tensor ${name}`);
  return t.data;
}

/** The masked batch a gradient fixture's `input.*` arrays hold (text ids, model input, targets, mask). */
export function fixtureBatch(m: Map<string, Named>): MaskedBatch {
  const get = (name: string): Named => {
    const t = m.get(name);
    if (!t) throw new Error(`fixture has no tensor ${name}`);
    return t;
  };
  const ids = get('input.text_ids');
  return {
    batch: ids.shape[0]!,
    textIds: ids.data,
    imgTokens: Uint32Array.from(get('input.img_tokens').data),
    targets: Uint32Array.from(get('input.targets').data),
    mask: Uint32Array.from(get('input.mask').data),
  };
}
