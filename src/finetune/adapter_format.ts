// The standalone LoRA adapter file: a plain `.safetensors` (u64 LE header length, JSON header, little-endian data;
// read back with src/model/safetensors.ts) holding F32 tensors `lora.<param>.A` / `lora.<param>.B` for every adapted
// base parameter, and a `__metadata__` map of strings:
//   format "mmamba-lora", formatVersion "2", baseModelId, baseConfigHash (lora.ts configHash), baseManifestSha256
//   (optional), rank, alpha, targets (JSON array), steps, word (optional), captions (JSON array, optional), createdAt.
// Version 2 may hold `word.embedding` (F32 [text width]): the new word's own embedding row (textual inversion,
// word.ts); then `word` is that word (1–64 of [a-z0-9]). Version 1 files (no embedding) still load.
// parseAdapter validates everything against the base model it will be merged into and throws
// AdapterFormatError (not a valid adapter file) or AdapterMismatchError (a valid adapter for another base / shape).
// A file from outside is bounded before it is parsed (size, header size, entry count) and must hold nothing but its
// tensors; mergedWeightsProblem checks the merged weights (finite, norm within a multiple of the base's).
import { WeightIntegrityError } from '../engine/errors';
import { parseSafetensors, parseSafetensorsHeader, type SafetensorsFile } from '../model/safetensors';
import {
  ADAPTER_FORMAT,
  ADAPTER_FORMAT_VERSION,
  ADAPTER_FORMAT_VERSIONS_READ,
  LORA_TARGETS,
  MAX_ADAPTER_FILE_BYTES,
  type BaseModelRef,
  type LoraAdapter,
  type LoraConfig,
  type LoraPair,
  type LoraTarget,
} from './api';
import { AdapterFormatError, AdapterMismatchError, InvalidFineTuneOptionsError } from './errors';
import { checkLoraConfig, configHash, factorShapes, loraParamNames, mergeAdapter } from './lora';
import { NEW_WORD_RE } from './word';
import type { WeightMap } from './api';

/** Largest JSON header of an adapter (a real one is a few kB plus its captions); checked before it is decoded. */
export const MAX_ADAPTER_HEADER_BYTES = 1024 * 1024;
/** Most header entries (tensors + __metadata__); M-Mamba S with every target has 102 tensors. */
export const MAX_ADAPTER_ENTRIES = 4096;
/** A merged weight may grow to at most this multiple of its base's Frobenius norm (plus MERGE_NORM_FLOOR for an
 *  all-zero base). A trained adapter moves a weight by a small fraction of its norm; beyond this the adapter does
 *  not steer the model but replaces it (degenerate images), so it is refused. */
export const MAX_MERGED_NORM_RATIO = 8;
const MERGE_NORM_FLOOR = 1;

const tensorName = (param: string, which: 'A' | 'B') => `lora.${param}.${which}`;
/** The tensor of the new word's embedding row (version 2). */
const WORD_TENSOR = 'word.embedding';

export function serializeAdapter(adapter: LoraAdapter): ArrayBuffer {
  const { config: lc, info } = adapter;
  const meta: Record<string, string> = {
    format: ADAPTER_FORMAT,
    formatVersion: String(ADAPTER_FORMAT_VERSION),
    baseModelId: info.baseModelId,
    baseConfigHash: info.baseConfigHash,
    rank: String(lc.rank),
    alpha: String(lc.alpha),
    targets: JSON.stringify(lc.targets),
    steps: String(info.steps),
  };
  if (info.baseManifestSha256) meta.baseManifestSha256 = info.baseManifestSha256;
  if (info.word !== undefined) meta.word = info.word;
  if (info.captions !== undefined) meta.captions = JSON.stringify(info.captions);
  if (info.createdAt !== undefined) meta.createdAt = info.createdAt;
  const header: Record<string, unknown> = { __metadata__: meta };
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const [param, pair] of adapter.pairs)
    for (const which of ['A', 'B'] as const) {
      const t = pair[which];
      header[tensorName(param, which)] = {
        dtype: 'F32',
        shape: t.shape,
        data_offsets: [offset, offset + t.data.byteLength],
      };
      chunks.push(t.data);
      offset += t.data.byteLength;
    }
  if (adapter.wordEmbedding) {
    if (info.word === undefined || !NEW_WORD_RE.test(info.word))
      throw new InvalidFineTuneOptionsError(
        `an adapter with a word embedding needs its word (1–64 of a–z, 0–9), got ${JSON.stringify(info.word)}`,
      );
    const t = adapter.wordEmbedding;
    header[WORD_TENSOR] = { dtype: 'F32', shape: [t.length], data_offsets: [offset, offset + t.byteLength] };
    chunks.push(t);
    offset += t.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8); // data starts 8-byte aligned
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const c of chunks) {
    out.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at);
    at += c.byteLength;
  }
  return out.buffer;
}

function metaNumber(meta: Record<string, string>, key: string, integer: boolean): number {
  const raw = meta[key];
  const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v)))
    throw new AdapterFormatError(
      `adapter metadata '${key}' is ${JSON.stringify(raw)}, not ${integer ? 'an integer' : 'a number'}; the file is damaged`,
    );
  return v;
}

function metaJson<T>(meta: Record<string, string>, key: string, check: (v: unknown) => v is T): T {
  let v: unknown;
  try {
    v = JSON.parse(meta[key] ?? '');
  } catch {
    throw new AdapterFormatError(`adapter metadata '${key}' is not valid JSON; the file is damaged`);
  }
  if (!check(v)) throw new AdapterFormatError(`adapter metadata '${key}' has the wrong type; the file is damaged`);
  return v;
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The bounds an adapter file must meet before its header is parsed: total size, header size, entry count; after
 *  the header: tensors that tile the data exactly (no trailing bytes, no holes). */
function checkFileBounds(file: ArrayBuffer): void {
  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
  if (file.byteLength > MAX_ADAPTER_FILE_BYTES)
    throw new AdapterFormatError(
      `the file is ${mb(file.byteLength)}; an adapter is at most ${MAX_ADAPTER_FILE_BYTES / 1048576} MB`,
    );
  if (file.byteLength < 8)
    throw new AdapterFormatError(`not a valid adapter file: ${file.byteLength} bytes is too short for a header`);
  const hlen = new DataView(file).getBigUint64(0, true);
  if (hlen > BigInt(MAX_ADAPTER_HEADER_BYTES))
    throw new AdapterFormatError(
      `not a valid adapter file: header length ${hlen} is over the ${MAX_ADAPTER_HEADER_BYTES / 1024} KiB an adapter's header may have`,
    );
  if (8 + Number(hlen) > file.byteLength)
    throw new AdapterFormatError(
      `not a valid adapter file: header length ${hlen} runs past the end of the ${file.byteLength}-byte file`,
    );
  // Entries are counted on the raw header text (an entry is a `"name":{…}` pair; `{` is an upper bound), so a
  // header of a million tiny entries is refused before any JSON is parsed.
  const head = new Uint8Array(file, 8, Number(hlen));
  let braces = 0;
  for (let i = 0; i < head.length; i++) if (head[i] === 0x7b) braces++;
  if (braces > MAX_ADAPTER_ENTRIES + 2)
    throw new AdapterFormatError(
      `not a valid adapter file: its header has ${braces - 1} or so entries; an adapter has at most ${MAX_ADAPTER_ENTRIES}`,
    );
}

/** Parses and validates an adapter file for `base`. Bounded before parsing (see checkFileBounds); a file whose
 *  tensors do not fill its data exactly (trailing bytes, gaps) is refused. */
export function parseAdapter(file: ArrayBuffer, base: BaseModelRef): LoraAdapter {
  if (!(file instanceof ArrayBuffer)) throw new AdapterFormatError('not a valid adapter file: no bytes were given');
  checkFileBounds(file);
  let st: SafetensorsFile;
  /** Bytes after the header that no tensor covers (checked once the tensors themselves are known to be right). */
  let unclaimed = 0;
  try {
    const { entries } = parseSafetensorsHeader(file, file.byteLength, 'adapter');
    unclaimed = file.byteLength - 8 - Number(new DataView(file).getBigUint64(0, true));
    for (const e of entries.values()) unclaimed -= e.end - e.begin;
    st = parseSafetensors(file, 'adapter');
  } catch (err) {
    if (err instanceof WeightIntegrityError)
      throw new AdapterFormatError(
        `not a valid adapter file: ${err.message.replace(/ The weights file.*$/, '')} Choose a .safetensors adapter exported by this app.`,
      );
    throw err;
  }
  const meta = st.metadata;
  if (Object.values(meta).some((v) => typeof v !== 'string'))
    throw new AdapterFormatError('adapter __metadata__ values must be strings; the file is damaged');
  if (meta.format !== ADAPTER_FORMAT)
    throw new AdapterFormatError(
      `this .safetensors file is not an M-Mamba LoRA adapter (format ${JSON.stringify(meta.format)}, want "${ADAPTER_FORMAT}")`,
    );
  const version = ADAPTER_FORMAT_VERSIONS_READ.find((v) => meta.formatVersion === String(v));
  if (version === undefined)
    throw new AdapterFormatError(
      `adapter formatVersion ${meta.formatVersion} is not supported (this app reads ${ADAPTER_FORMAT_VERSIONS_READ.join(' and ')}); update the app`,
    );

  const targets = metaJson(meta, 'targets', isStringArray);
  for (const t of targets)
    if (!LORA_TARGETS.includes(t as LoraTarget))
      throw new AdapterFormatError(`adapter names an unknown LoRA target '${t}'`);
  const config: LoraConfig = {
    rank: metaNumber(meta, 'rank', true),
    alpha: metaNumber(meta, 'alpha', false),
    targets: targets as LoraTarget[],
  };
  const steps = metaNumber(meta, 'steps', true);
  const captions = meta.captions !== undefined ? metaJson(meta, 'captions', isStringArray) : undefined;

  // the base model
  if (meta.baseModelId !== base.modelId)
    throw new AdapterMismatchError(
      `this adapter was trained on '${meta.baseModelId}', not on '${base.modelId}'; load it with that model`,
    );
  if (meta.baseConfigHash !== configHash(base.config))
    throw new AdapterMismatchError(
      `this adapter was trained on a different version of '${base.modelId}' (config hash ${meta.baseConfigHash}); retrain it on this one`,
    );
  if (meta.baseManifestSha256 && base.manifestSha256 && meta.baseManifestSha256 !== base.manifestSha256)
    throw new AdapterMismatchError(
      `this adapter was trained on other weights of '${base.modelId}' (manifest sha256 differs); retrain it on these`,
    );
  try {
    checkLoraConfig(base.config, config);
  } catch (err) {
    if (err instanceof InvalidFineTuneOptionsError)
      throw new AdapterMismatchError(`adapter config does not fit the base model: ${err.message}`);
    throw err;
  }

  // the tensors: exactly the expected names, F32, the shapes the base config implies, finite values
  const params = loraParamNames(base.config, config.targets);
  const expected = new Set(params.flatMap((p) => [tensorName(p, 'A'), tensorName(p, 'B')]));
  if (version >= 2) expected.add(WORD_TENSOR);
  for (const name of st.tensors.keys())
    if (!expected.has(name))
      throw new AdapterFormatError(
        `adapter holds an unexpected tensor '${name}' (targets ${config.targets.join(', ')})`,
      );
  const pairs = new Map<string, LoraPair>();
  for (const p of params) {
    const f = factorShapes(base.config, p, config.rank);
    const read = (which: 'A' | 'B') => {
      const name = tensorName(p, which);
      const t = st.tensors.get(name);
      if (!t) throw new AdapterFormatError(`adapter is missing tensor '${name}'`);
      if (t.dtype !== 'F32') throw new AdapterFormatError(`adapter tensor '${name}' is ${t.dtype}; adapters store F32`);
      const want = which === 'A' ? f.A : f.B;
      if (t.shape.join() !== want.join())
        throw new AdapterMismatchError(
          `adapter tensor '${name}' has shape [${t.shape}], the base model needs [${want}]`,
        );
      const data = new Float32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4);
      for (let i = 0; i < data.length; i++)
        if (!Number.isFinite(data[i]!))
          throw new AdapterFormatError(
            `adapter tensor '${name}' holds a non-finite value at [${i}]; the file is damaged`,
          );
      return { shape: [...t.shape], data };
    };
    pairs.set(p, { A: read('A'), B: read('B') });
  }
  let wordEmbedding: Float32Array | undefined;
  const wt = st.tensors.get(WORD_TENSOR);
  if (wt) {
    if (meta.word === undefined || !NEW_WORD_RE.test(meta.word))
      throw new AdapterFormatError(
        `adapter has a word embedding but its word ${JSON.stringify(meta.word)} is not 1–64 of a–z, 0–9; the file is damaged`,
      );
    if (wt.dtype !== 'F32')
      throw new AdapterFormatError(`adapter tensor '${WORD_TENSOR}' is ${wt.dtype}; adapters store F32`);
    if (wt.shape.join() !== String(base.config.text.width))
      throw new AdapterMismatchError(
        `adapter tensor '${WORD_TENSOR}' has shape [${wt.shape}], the base model's text width needs [${base.config.text.width}]`,
      );
    wordEmbedding = new Float32Array(wt.bytes.buffer, wt.bytes.byteOffset, wt.bytes.byteLength / 4);
    for (let i = 0; i < wordEmbedding.length; i++)
      if (!Number.isFinite(wordEmbedding[i]!))
        throw new AdapterFormatError(
          `adapter tensor '${WORD_TENSOR}' holds a non-finite value at [${i}]; the file is damaged`,
        );
  }
  // The tensors (non-overlapping) must tile the data exactly: trailing junk or hidden bytes are refused, never stored.
  if (unclaimed !== 0)
    throw new AdapterFormatError(
      `not a valid adapter file: ${unclaimed} bytes after the header belong to no tensor (trailing or hidden data); export the adapter from this app again`,
    );
  return {
    config,
    info: {
      baseModelId: meta.baseModelId,
      baseConfigHash: meta.baseConfigHash,
      baseManifestSha256: meta.baseManifestSha256,
      steps,
      word: meta.word,
      captions,
      createdAt: meta.createdAt,
    },
    pairs,
    ...(wordEmbedding ? { wordEmbedding } : {}),
  };
}

/** Why merging `adapter` into `base` gives unusable weights ('' when it does not): a non-finite merged value (factors
 *  like 3e38 overflow in B·A), or a merged weight whose Frobenius norm exceeds MAX_MERGED_NORM_RATIO × its base's.
 *  Runs the real merge (lora.ts mergeAdapter), so it checks exactly the weights generation would use. */
export function mergedWeightsProblem(base: WeightMap, adapter: LoraAdapter): string {
  let merged: WeightMap;
  try {
    merged = mergeAdapter(base, adapter);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  const norm = (d: Float32Array) => {
    let s = 0;
    for (let i = 0; i < d.length; i++) s += d[i]! * d[i]!;
    return Math.sqrt(s);
  };
  for (const name of adapter.pairs.keys()) {
    const w = merged.get(name)!.data;
    for (let i = 0; i < w.length; i++)
      if (!Number.isFinite(w[i]!))
        return `merging it makes ${name} non-finite (at [${i}]): its factors are far too large`;
    const before = norm(base.get(name)!.data);
    const after = norm(w);
    if (after > MAX_MERGED_NORM_RATIO * before + MERGE_NORM_FLOOR)
      return `merging it makes ${name} ${(after / Math.max(before, 1e-30)).toPrecision(3)}× its base size (at most ${MAX_MERGED_NORM_RATIO}×): it would replace the model, not adapt it`;
  }
  return '';
}
