// The standalone LoRA adapter file: a plain `.safetensors` (u64 LE header length, JSON header, little-endian data;
// read back with src/model/safetensors.ts) holding F32 tensors `lora.<param>.A` / `lora.<param>.B` for every adapted
// base parameter, and a `__metadata__` map of strings:
//   format "mmamba-lora", formatVersion "1", baseModelId, baseConfigHash (lora.ts configHash), baseManifestSha256
//   (optional), rank, alpha, targets (JSON array), steps, word (optional), captions (JSON array, optional), createdAt.
// parseAdapter validates everything against the base model it will be merged into and throws
// AdapterFormatError (not a valid adapter file) or AdapterMismatchError (a valid adapter for another base / shape).
import { WeightIntegrityError } from '../engine/errors';
import { parseSafetensors, type SafetensorsFile } from '../model/safetensors';
import {
  ADAPTER_FORMAT,
  ADAPTER_FORMAT_VERSION,
  LORA_TARGETS,
  type BaseModelRef,
  type LoraAdapter,
  type LoraConfig,
  type LoraPair,
  type LoraTarget,
} from './api';
import { AdapterFormatError, AdapterMismatchError, InvalidFineTuneOptionsError } from './errors';
import { checkLoraConfig, configHash, factorShapes, loraParamNames } from './lora';

const tensorName = (param: string, which: 'A' | 'B') => `lora.${param}.${which}`;

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
      header[tensorName(param, which)] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
      chunks.push(t.data);
      offset += t.data.byteLength;
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
    throw new AdapterFormatError(`adapter metadata '${key}' is ${JSON.stringify(raw)}, not ${integer ? 'an integer' : 'a number'}; the file is damaged`);
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

/** Parses and validates an adapter file for `base`. */
export function parseAdapter(file: ArrayBuffer, base: BaseModelRef): LoraAdapter {
  let st: SafetensorsFile;
  try {
    st = parseSafetensors(file, 'adapter');
  } catch (err) {
    if (err instanceof WeightIntegrityError)
      throw new AdapterFormatError(`not a valid adapter file: ${err.message.replace(/ The weights file.*$/, '')} Choose a .safetensors adapter exported by this app.`);
    throw err;
  }
  const meta = st.metadata;
  if (Object.values(meta).some((v) => typeof v !== 'string')) throw new AdapterFormatError('adapter __metadata__ values must be strings; the file is damaged');
  if (meta.format !== ADAPTER_FORMAT)
    throw new AdapterFormatError(`this .safetensors file is not an M-Mamba LoRA adapter (format ${JSON.stringify(meta.format)}, want "${ADAPTER_FORMAT}")`);
  if (meta.formatVersion !== String(ADAPTER_FORMAT_VERSION))
    throw new AdapterFormatError(`adapter formatVersion ${meta.formatVersion} is not supported (this app reads ${ADAPTER_FORMAT_VERSION}); update the app`);

  const targets = metaJson(meta, 'targets', isStringArray);
  for (const t of targets) if (!LORA_TARGETS.includes(t as LoraTarget)) throw new AdapterFormatError(`adapter names an unknown LoRA target '${t}'`);
  const config: LoraConfig = { rank: metaNumber(meta, 'rank', true), alpha: metaNumber(meta, 'alpha', false), targets: targets as LoraTarget[] };
  const steps = metaNumber(meta, 'steps', true);
  const captions = meta.captions !== undefined ? metaJson(meta, 'captions', isStringArray) : undefined;

  // the base model
  if (meta.baseModelId !== base.modelId)
    throw new AdapterMismatchError(`this adapter was trained on '${meta.baseModelId}', not on '${base.modelId}'; load it with that model`);
  if (meta.baseConfigHash !== configHash(base.config))
    throw new AdapterMismatchError(`this adapter was trained on a different version of '${base.modelId}' (config hash ${meta.baseConfigHash}); retrain it on this one`);
  if (meta.baseManifestSha256 && base.manifestSha256 && meta.baseManifestSha256 !== base.manifestSha256)
    throw new AdapterMismatchError(`this adapter was trained on other weights of '${base.modelId}' (manifest sha256 differs); retrain it on these`);
  try {
    checkLoraConfig(base.config, config);
  } catch (err) {
    if (err instanceof InvalidFineTuneOptionsError) throw new AdapterMismatchError(`adapter config does not fit the base model: ${err.message}`);
    throw err;
  }

  // the tensors: exactly the expected names, F32, the shapes the base config implies, finite values
  const params = loraParamNames(base.config, config.targets);
  const expected = new Set(params.flatMap((p) => [tensorName(p, 'A'), tensorName(p, 'B')]));
  for (const name of st.tensors.keys())
    if (!expected.has(name)) throw new AdapterFormatError(`adapter holds an unexpected tensor '${name}' (targets ${config.targets.join(', ')})`);
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
        throw new AdapterMismatchError(`adapter tensor '${name}' has shape [${t.shape}], the base model needs [${want}]`);
      const data = new Float32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4);
      for (let i = 0; i < data.length; i++)
        if (!Number.isFinite(data[i]!)) throw new AdapterFormatError(`adapter tensor '${name}' holds a non-finite value at [${i}]; the file is damaged`);
      return { shape: [...t.shape], data };
    };
    pairs.set(p, { A: read('A'), B: read('B') });
  }
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
  };
}
