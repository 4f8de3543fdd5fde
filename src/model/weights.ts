// The weights manifest (docs/architecture.md "Weights on the wire") and the loader that turns verified shard
// buffers into f32 host tensors: f16 widened, int8 dequantised per output row with `<name>.scale`
// (training/mmamba/export.py quantize_int8: w ≈ q · scale, scale f16 of shape [rows]). Shapes and dtypes are
// checked against the manifest; any mismatch throws WeightIntegrityError. Hashing and downloading are the
// worker's job; this file only parses.
import { WeightIntegrityError } from '../engine/errors';
import { parseSafetensors, toFloat32, type SafeDType, type SafetensorsFile } from './safetensors';

export type ManifestDType = 'f32' | 'f16' | 'int8';

export interface ManifestTensor {
  shape: number[];
  dtype: ManifestDType;
  shard: number;
  /** Name of the per-row f16 scale tensor (int8 only). */
  scale?: string;
}

export interface ManifestShard {
  file: string;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: 'mmamba-weights';
  formatVersion: number;
  modelId: string;
  kind: 'mmamba' | 'uvit' | 'vq';
  /** The Python config dataclass as written by training/ (the single source of shapes). */
  config: Record<string, unknown>;
  /** Generators only: the byte-level BPE tokenizer (src/model/bpe.ts). */
  tokenizer?: Record<string, unknown> | null;
  tensors: Record<string, ManifestTensor>;
  shards: ManifestShard[];
  totalBytes?: number;
  extra?: Record<string, unknown>;
}

export interface HostTensor {
  shape: number[];
  data: Float32Array;
}
export type WeightMap = Map<string, HostTensor>;

export const SUPPORTED_FORMAT_VERSION = 1;
const ST_DTYPE: Record<ManifestDType, SafeDType> = { f32: 'F32', f16: 'F16', int8: 'I8' };

/** Throws unless `m` looks like a weights manifest this code can load. */
export function checkManifest(m: Manifest): void {
  if (m?.format !== 'mmamba-weights')
    throw new WeightIntegrityError(`not a weights manifest (format ${String(m?.format)})`);
  if (m.formatVersion !== SUPPORTED_FORMAT_VERSION)
    throw new WeightIntegrityError(
      `${m.modelId}: manifest formatVersion ${m.formatVersion} is not ${SUPPORTED_FORMAT_VERSION}; update the app`,
    );
  if (!Array.isArray(m.shards) || m.shards.length === 0 || typeof m.tensors !== 'object')
    throw new WeightIntegrityError(`${m.modelId}: manifest has no shards or tensors`);
}

/** Parses `shards` (in manifest order) and returns every tensor of the manifest, except the int8 scales, as f32. */
export function loadWeights(manifest: Manifest, shards: ArrayBuffer[]): WeightMap {
  checkManifest(manifest);
  const id = manifest.modelId;
  if (shards.length !== manifest.shards.length)
    throw new WeightIntegrityError(
      `${id}: got ${shards.length} shard buffers, the manifest lists ${manifest.shards.length}`,
    );
  const files: SafetensorsFile[] = shards.map((buf, i) => {
    const s = manifest.shards[i]!;
    if (buf.byteLength !== s.bytes)
      throw new WeightIntegrityError(`${id}/${s.file}: ${buf.byteLength} bytes, the manifest says ${s.bytes}`);
    return parseSafetensors(buf, `${id}/${s.file}`);
  });
  const raw = (name: string) => {
    const t = manifest.tensors[name];
    if (!t) throw new WeightIntegrityError(`${id}: manifest has no tensor ${name}`);
    const file = files[t.shard];
    if (!file) throw new WeightIntegrityError(`${id}: ${name} is in shard ${t.shard}, which does not exist`);
    const st = file.tensors.get(name);
    if (!st) throw new WeightIntegrityError(`${id}: ${name} is missing from shard ${t.shard}`);
    if (st.dtype !== ST_DTYPE[t.dtype] || st.shape.join() !== t.shape.join())
      throw new WeightIntegrityError(
        `${id}: ${name} is ${st.dtype} [${st.shape}] in the shard, the manifest says ${t.dtype} [${t.shape}]`,
      );
    return { t, st };
  };
  const scales = new Set(Object.values(manifest.tensors).flatMap((t) => (t.scale ? [t.scale] : [])));
  const out: WeightMap = new Map();
  for (const name of Object.keys(manifest.tensors)) {
    if (scales.has(name)) continue;
    const { t, st } = raw(name);
    let data = toFloat32(st);
    if (t.dtype === 'int8') {
      if (!t.scale) throw new WeightIntegrityError(`${id}: int8 tensor ${name} has no scale`);
      const rows = t.shape[0] ?? 0;
      const sc = raw(t.scale);
      if (sc.t.shape.length !== 1 || sc.t.shape[0] !== rows)
        throw new WeightIntegrityError(`${id}: scale ${t.scale} must have shape [${rows}], got [${sc.t.shape}]`);
      const scale = toFloat32(sc.st);
      const cols = rows === 0 ? 0 : data.length / rows;
      for (let r = 0; r < rows; r++) {
        const s = scale[r]!;
        // q · scale in f32, as export.py
        for (let c = 0; c < cols; c++) data[r * cols + c] = Math.fround(data[r * cols + c]! * s);
      }
    } else if (t.dtype === 'f32') {
      data = data.slice(); // own buffer
    }
    out.set(name, { shape: [...t.shape], data });
  }
  return out;
}

/** A tensor of the map with the expected shape, or a WeightIntegrityError naming what is wrong. */
export function getWeight(w: WeightMap, name: string, shape?: readonly number[]): HostTensor {
  const t = w.get(name);
  if (!t)
    throw new WeightIntegrityError(`weights have no tensor ${name}; the model files do not match this app version`);
  if (shape && t.shape.join() !== shape.join())
    throw new WeightIntegrityError(`weight ${name} has shape [${t.shape}], the config implies [${shape}]`);
  return t;
}
