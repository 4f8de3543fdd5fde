// safetensors parser (https://github.com/huggingface/safetensors format): u64 little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}, then the raw little-endian data.
// Offsets are relative to the end of the header. Everything is validated; anything malformed throws
// WeightIntegrityError (a corrupt download or cache entry: the caller re-downloads).
import { WeightIntegrityError } from '../engine/errors';

export type SafeDType = 'F32' | 'F16' | 'I8' | 'I32';
const ITEM_BYTES: Record<SafeDType, number> = { F32: 4, F16: 2, I8: 1, I32: 4 };

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  /** A copy of the raw bytes, aligned for the typed array of `dtype`. */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** Largest header we accept (the format's own limit is 100 MB; ours are a few kB). */
const MAX_HEADER = 100 << 20;

function fail(what: string, source: string): never {
  throw new WeightIntegrityError(
    `${source}: ${what}. The weights file is corrupt or not safetensors; clear the cache and download again.`,
  );
}

export interface SafeEntry {
  dtype: SafeDType;
  shape: number[];
  /** Byte range in the file (absolute, header included). */
  begin: number;
  end: number;
}

/** Parses and validates the header. `buf` holds at least the first 8 + header-length bytes of a file of
 *  `fileBytes` bytes (the whole file, or only its head: useful to check a download before reading the data). */
export function parseSafetensorsHeader(
  buf: ArrayBuffer,
  fileBytes = buf.byteLength,
  source = 'safetensors',
): { entries: Map<string, SafeEntry>; metadata: Record<string, string> } {
  if (buf.byteLength < 8 || fileBytes < 8) fail(`${fileBytes} bytes is too short for a header`, source);
  const view = new DataView(buf);
  const hlen64 = view.getBigUint64(0, true);
  if (hlen64 > BigInt(Math.min(MAX_HEADER, fileBytes - 8)))
    fail(`header length ${hlen64} exceeds the file (${fileBytes} bytes)`, source);
  const hlen = Number(hlen64);
  if (8 + hlen > buf.byteLength) fail(`only ${buf.byteLength} bytes given for a ${hlen}-byte header`, source);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(buf, 8, hlen)));
  } catch (err) {
    fail(`header is not valid UTF-8 JSON (${(err as Error).message})`, source);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('header is not a JSON object', source);
  const dataStart = 8 + hlen;
  const dataLen = fileBytes - dataStart;
  const entries = new Map<string, SafeEntry>();
  let metadata: Record<string, string> = {};
  const spans: Array<[number, number, string]> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) fail('__metadata__ is not an object', source);
      metadata = raw as Record<string, string>;
      continue;
    }
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) fail(`entry ${name} is not an object`, source);
    const dtype = t.dtype as SafeDType;
    if (typeof dtype !== 'string' || !(dtype in ITEM_BYTES))
      fail(`${name} has unsupported dtype ${String(t.dtype)} (F32, F16, I8, I32)`, source);
    const shape = t.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`${name} has a bad shape ${JSON.stringify(shape)}`, source);
    const offs = t.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0))
      fail(`${name} has bad data_offsets ${JSON.stringify(offs)}`, source);
    const [a, b] = offs as [number, number];
    const n = (shape as number[]).reduce((p, d) => p * d, 1);
    if (b < a || b > dataLen) fail(`${name} data [${a}, ${b}) lies outside the ${dataLen} data bytes`, source);
    if (b - a !== n * ITEM_BYTES[dtype])
      fail(`${name} has ${b - a} bytes but shape [${shape}] ${dtype} needs ${n * ITEM_BYTES[dtype]}`, source);
    spans.push([a, b, name]);
    entries.set(name, { dtype, shape: shape as number[], begin: dataStart + a, end: dataStart + b });
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  for (let i = 1; i < spans.length; i++)
    if (spans[i]![0] < spans[i - 1]![1]) fail(`tensors ${spans[i - 1]![2]} and ${spans[i]![2]} overlap`, source);
  return { entries, metadata };
}

/** Parses a whole safetensors file. `source` names it in error messages. */
export function parseSafetensors(buf: ArrayBuffer, source = 'safetensors'): SafetensorsFile {
  const { entries, metadata } = parseSafetensorsHeader(buf, buf.byteLength, source);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of entries)
    tensors.set(name, { dtype: t.dtype, shape: t.shape, bytes: new Uint8Array(buf.slice(t.begin, t.end)) });
  return { tensors, metadata };
}

/** IEEE half → float (exact: every f16 is representable in f32). */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** The tensor's values widened to f32 (F32, F16, I8 and I32 alike; I32 values must fit f32 exactly to round-trip). */
export function toFloat32(t: SafeTensor): Float32Array {
  const b = t.bytes;
  switch (t.dtype) {
    case 'F32':
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    case 'F16': {
      const h = new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
      const out = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) out[i] = f16ToF32(h[i]!);
      return out;
    }
    case 'I8':
      return Float32Array.from(new Int8Array(b.buffer, b.byteOffset, b.byteLength));
    case 'I32':
      return Float32Array.from(new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4));
  }
}
