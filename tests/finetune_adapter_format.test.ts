// The adapter file (src/finetune/adapter_format.ts): round trip, and rejection of damaged, tampered, wrong-shape
// and wrong-base files with typed errors. CPU only.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MMambaConfig } from '../src/model/common';
import { parseSafetensorsHeader } from '../src/model/safetensors';
import { parseAdapter, serializeAdapter } from '../src/finetune/adapter_format';
import { AdapterFormatError, AdapterMismatchError } from '../src/finetune/errors';
import { configHash, initAdapter } from '../src/finetune/lora';
import type { BaseModelRef, LoraAdapter } from '../src/finetune/api';

const cfg = JSON.parse(readFileSync(resolve(__dirname, 'fixtures/mmamba_tiny/manifest.json'), 'utf8'))
  .config as MMambaConfig;
const base: BaseModelRef = { modelId: 'mmamba-tiny', config: cfg, manifestSha256: 'ab'.repeat(32) };

function trained(): LoraAdapter {
  const a = initAdapter(
    base,
    { rank: 2, alpha: 4, targets: ['in_proj', 'out_proj', 'x_proj', 'head', 'text', 'text_layers'] },
    5,
  );
  for (const p of a.pairs.values())
    p.B.data.forEach((_, i, d) => {
      d[i] = Math.sin(i + 1) * 0.01;
    });
  a.info.steps = 12;
  a.info.word = 'zorblax';
  a.info.captions = ['a zorblax', 'zorblax on blue'];
  return a;
}

/** Rewrites the JSON header of a file (keeping the data) with `edit`. */
// biome-ignore lint/suspicious/noExplicitAny: hostile-file tests poke arbitrary (ill-typed) header fields
function editHeader(buf: ArrayBuffer, edit: (h: Record<string, any>) => void): ArrayBuffer {
  const n = Number(new DataView(buf).getBigUint64(0, true));
  const h = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, n)));
  edit(h);
  let json = JSON.stringify(h);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const data = new Uint8Array(buf, 8 + n);
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
  return out.buffer;
}

describe('adapter file format', () => {
  it('round-trips tensors and metadata; data 8-byte aligned', () => {
    const a = trained();
    const buf = serializeAdapter(a);
    const { entries, metadata } = parseSafetensorsHeader(buf);
    expect(metadata.format).toBe('mmamba-lora');
    expect(metadata.baseConfigHash).toBe(configHash(cfg));
    expect([...entries.keys()]).toContain('lora.layers.0.in_proj.weight.A');
    expect((8 + Number(new DataView(buf).getBigUint64(0, true))) % 8).toBe(0);
    const b = parseAdapter(buf, base);
    expect(b.config).toEqual(a.config);
    expect(b.info).toMatchObject({ baseModelId: 'mmamba-tiny', steps: 12, word: 'zorblax', captions: a.info.captions });
    expect([...b.pairs.keys()]).toEqual([...a.pairs.keys()]);
    for (const [k, p] of a.pairs) {
      expect(b.pairs.get(k)!.A.shape).toEqual(p.A.shape);
      expect(Array.from(b.pairs.get(k)!.A.data)).toEqual(Array.from(p.A.data));
      expect(Array.from(b.pairs.get(k)!.B.data)).toEqual(Array.from(p.B.data));
    }
  });

  it('rejects damaged files (truncated, bad header length, not JSON, wrong format)', () => {
    const buf = serializeAdapter(trained());
    expect(() => parseAdapter(buf.slice(0, 5), base)).toThrow(AdapterFormatError);
    expect(() => parseAdapter(buf.slice(0, buf.byteLength - 4), base)).toThrow(AdapterFormatError);
    const badLen = buf.slice(0);
    new DataView(badLen).setBigUint64(0, BigInt(buf.byteLength * 2), true);
    expect(() => parseAdapter(badLen, base)).toThrow(/header length/);
    const notJson = buf.slice(0);
    new Uint8Array(notJson)[8] = 0x7a; // '{' → 'z'
    expect(() => parseAdapter(notJson, base)).toThrow(/JSON/);
    expect(() =>
      parseAdapter(
        editHeader(buf, (h) => (h.__metadata__.format = 'mmamba-weights')),
        base,
      ),
    ).toThrow(/not an M-Mamba LoRA adapter/);
    expect(() =>
      parseAdapter(
        editHeader(buf, (h) => (h.__metadata__.formatVersion = '9')),
        base,
      ),
    ).toThrow(/formatVersion/);
    expect(() =>
      parseAdapter(
        editHeader(buf, (h) => (h.__metadata__.rank = 'two')),
        base,
      ),
    ).toThrow(AdapterFormatError);
    expect(() =>
      parseAdapter(
        editHeader(buf, (h) => (h.__metadata__.targets = '["in_proj", "attn"]')),
        base,
      ),
    ).toThrow(/unknown LoRA target/);
  });

  it('rejects tampered tensors: wrong dtype, wrong shape, missing, extra, non-finite values', () => {
    const buf = serializeAdapter(trained());
    const A0 = 'lora.layers.0.in_proj.weight.A';
    expect(() =>
      parseAdapter(
        editHeader(buf, (h) => (h[A0].dtype = 'I32')),
        base,
      ),
    ).toThrow(/F32/);
    expect(() =>
      parseAdapter(
        editHeader(buf, (h) => (h[A0].shape = [h[A0].shape[1], h[A0].shape[0]])),
        base,
      ),
    ).toThrow(AdapterMismatchError);
    expect(() =>
      parseAdapter(
        editHeader(buf, (h) => delete h['lora.head.weight.B']),
        base,
      ),
    ).toThrow(/missing tensor 'lora.head.weight.B'/);
    expect(() =>
      parseAdapter(
        editHeader(buf, (h) => (h['lora.layers.0.dt_proj_weight.A'] = { ...h[A0] })),
        base,
      ),
    ).toThrow(); // overlapping data or unexpected tensor: both are refusals
    const nan = buf.slice(0);
    const { entries } = parseSafetensorsHeader(nan);
    new DataView(nan).setFloat32(entries.get(A0)!.begin + 8, Number.NaN, true);
    expect(() => parseAdapter(nan, base)).toThrow(/non-finite/);
  });

  it('rejects an adapter of another base model (id, config, manifest sha, rank too large)', () => {
    const buf = serializeAdapter(trained());
    expect(() => parseAdapter(buf, { ...base, modelId: 'mmamba-s' })).toThrow(AdapterMismatchError);
    expect(() => parseAdapter(buf, { ...base, config: { ...cfg, d_state: 8 } })).toThrow(/different version/);
    expect(() => parseAdapter(buf, { ...base, manifestSha256: 'cd'.repeat(32) })).toThrow(/manifest sha256/);
    // no sha given: not checked
    expect(parseAdapter(buf, { modelId: base.modelId, config: cfg }).pairs.size).toBeGreaterThan(0);
    expect(() =>
      parseAdapter(
        editHeader(buf, (h) => (h.__metadata__.rank = '64')),
        base,
      ),
    ).toThrow(AdapterMismatchError);
  });

  it("version 2 carries the new word's embedding row; version 1 files still load; a bad row or word is refused", () => {
    const a = trained();
    a.wordEmbedding = Float32Array.from({ length: cfg.text.width }, (_, i) => Math.cos(i) * 0.1);
    const buf = serializeAdapter(a);
    const meta = parseSafetensorsHeader(buf, buf.byteLength, 'adapter').metadata as Record<string, string>;
    expect(meta.formatVersion).toBe('2');
    const back = parseAdapter(buf, base);
    expect(Array.from(back.wordEmbedding!)).toEqual(Array.from(a.wordEmbedding));
    expect(back.info.word).toBe('zorblax');
    // a LoRA-only adapter written as version 1 (what older builds wrote) loads, with no embedding
    const plain = trained();
    const v1 = editHeader(serializeAdapter(plain), (h) => (h.__metadata__.formatVersion = '1'));
    const old = parseAdapter(v1, base);
    expect(old.wordEmbedding).toBeUndefined();
    expect([...old.pairs.keys()]).toEqual([...plain.pairs.keys()]);
    // version 1 cannot hold an embedding; a row of the wrong width, or a word that cannot be one id, is refused
    expect(() =>
      parseAdapter(
        editHeader(buf, (h) => (h.__metadata__.formatVersion = '1')),
        base,
      ),
    ).toThrow(/unexpected tensor 'word.embedding'/);
    expect(() =>
      parseAdapter(
        editHeader(buf, (h) => (h['word.embedding'].shape = [cfg.text.width / 2, 2])),
        base,
      ),
    ).toThrow(AdapterMismatchError);
    expect(() =>
      parseAdapter(
        editHeader(buf, (h) => (h.__metadata__.word = 'two words')),
        base,
      ),
    ).toThrow(AdapterFormatError);
    const nan = trained();
    nan.wordEmbedding = new Float32Array(cfg.text.width).fill(Number.NaN);
    expect(() => parseAdapter(serializeAdapter(nan), base)).toThrow(/non-finite/);
    const noWord = trained();
    noWord.info.word = undefined;
    noWord.wordEmbedding = new Float32Array(cfg.text.width);
    expect(() => serializeAdapter(noWord)).toThrow(/needs its word/);
  });
});
