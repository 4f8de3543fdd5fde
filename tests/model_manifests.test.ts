// The shipped models (public/models/*/manifest.json, int8 + f16) and the tiny fixtures hold exactly the tensors the
// TypeScript models read (src/model/params.ts, derived from the manifest config only), with the config's shapes:
// no GPU, header parsing only. A rename or layout change in training/ fails here before it reaches the browser.
// A first visit's download (the default generator and the VQ) stays within the 40 MB budget (docs/architecture.md).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';
import type { MMambaConfig, UViTConfig, VQConfig } from '../src/model/common';
import { generatorParams, vqDecoderParams, vqEncoderParams, type ParamTable } from '../src/model/params';
import { parseSafetensorsHeader } from '../src/model/safetensors';
import { samplingDefaultsProblem } from '../src/model/settings';
import type { Manifest } from '../src/model/weights';

const root = resolve(__dirname, '..');
const index = JSON.parse(readFileSync(resolve(root, 'public/models/index.json'), 'utf8')) as {
  models: Array<{ id: string; kind: string; bytes: number; sampling?: unknown }>;
  defaultGenerator: string;
  tokenizer: string;
};
const dirs = [
  ...index.models.map((m) => `public/models/${m.id}`),
  ...['mmamba_tiny', 'uvit_tiny', 'vq_tiny'].map((f) => `tests/fixtures/${f}`),
];

function needed(m: Manifest): ParamTable {
  if (m.kind === 'vq') {
    const c = m.config as unknown as VQConfig;
    return new Map([...vqDecoderParams(c), ...vqEncoderParams(c)]);
  }
  return generatorParams(m.config as unknown as MMambaConfig | UViTConfig);
}

/** Reads only the safetensors header of a shard (first 8 + header bytes). */
function header(path: string): Map<string, { dtype: string; shape: number[] }> {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const buf = new ArrayBuffer(8 + n);
  new Uint8Array(buf).set(b.subarray(0, 8 + n));
  return new Map(
    [...parseSafetensorsHeader(buf, b.byteLength, path).entries].map(([k, t]) => [
      k,
      { dtype: t.dtype, shape: t.shape },
    ]),
  );
}

describe('manifests hold what the TS models need', () => {
  for (const dir of dirs)
    it(dir, () => {
      const m = JSON.parse(readFileSync(resolve(root, dir, 'manifest.json'), 'utf8')) as Manifest;
      const need = needed(m);
      const scales = new Set(Object.values(m.tensors).flatMap((t) => (t.scale ? [t.scale] : [])));
      const missing = [...need]
        .filter(([n, s]) => m.tensors[n]?.shape.join() !== s.join())
        .map(([n, s]) => `${n} [${s}] (manifest: ${m.tensors[n]?.shape ?? 'none'})`);
      expect(missing, 'tensors missing or with other shapes').toEqual([]);
      const unused = Object.keys(m.tensors).filter((n) => !need.has(n) && !scales.has(n));
      expect(unused, 'tensors the TS models never read').toEqual([]);
      // every int8 tensor has a per-row scale; the shard headers agree with the manifest
      const heads = m.shards.map((s) => header(resolve(root, dir, s.file)));
      for (const [n, t] of Object.entries(m.tensors)) {
        if (t.dtype === 'int8') expect(m.tensors[t.scale!]?.shape, `${n}.scale`).toEqual([t.shape[0]]);
        const h = heads[t.shard]!.get(n);
        expect(h?.shape, n).toEqual(t.shape);
        expect(h?.dtype, n).toBe({ f32: 'F32', f16: 'F16', int8: 'I8' }[t.dtype]);
      }
      if (m.kind !== 'vq' && m.tokenizer) {
        const tok = new BPETokenizer(
          m.tokenizer as unknown as TokenizerSpec,
          (m.config as unknown as MMambaConfig).text.max_len,
        );
        expect(tok.vocabSize).toBeLessThanOrEqual((m.config as unknown as MMambaConfig).text.vocab_size);
      }
    });

  it('a first visit (the default generator and the VQ: index.json, manifests, shards) downloads at most 40 MB', () => {
    const files = ['index.json'];
    for (const id of [index.defaultGenerator, index.tokenizer]) {
      const m = JSON.parse(readFileSync(resolve(root, `public/models/${id}/manifest.json`), 'utf8')) as Manifest;
      expect(index.models.find((x) => x.id === id)?.bytes, id).toBe(m.shards.reduce((a, s) => a + s.bytes, 0));
      files.push(`${id}/manifest.json`, ...m.shards.map((s) => `${id}/${s.file}`));
    }
    const bytes = files.reduce((a, f) => a + statSync(resolve(root, 'public/models', f)).size, 0);
    console.log(`first visit: ${(bytes / 1e6).toFixed(2)} MB of models (${files.join(', ')})`);
    expect(bytes).toBeLessThanOrEqual(40e6);
  });

  it('index.json: the default is a generator and listed first, the tokenizer a VQ, one folder per entry', () => {
    // the default and its place come from index.json (scripts/ship_model.sh --default writes both), not from here
    const kinds = new Map(index.models.map((m) => [m.id, m.kind]));
    expect(kinds.size, 'ids are unique').toBe(index.models.length);
    expect(['mmamba', 'uvit']).toContain(kinds.get(index.defaultGenerator));
    expect(index.models[0]?.id).toBe(index.defaultGenerator);
    expect(kinds.get(index.tokenizer)).toBe('vq');
    for (const m of index.models) {
      // a generator's recommended sampling settings (its sweep's winner) pass the page's own check; the VQ has none
      if (m.kind === 'vq') expect(m.sampling, m.id).toBeUndefined();
      else if (m.sampling !== undefined) expect(samplingDefaultsProblem(m.sampling), m.id).toBeUndefined();
    }
    expect(
      index.models.find((m) => m.id === index.defaultGenerator)?.sampling,
      'the default names its own',
    ).toBeDefined();
    const folders = readdirSync(resolve(root, 'public/models'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.sort(), 'public/models holds exactly the listed models').toEqual([...kinds.keys()].sort());
    for (const m of index.models) {
      const manifest = JSON.parse(
        readFileSync(resolve(root, `public/models/${m.id}/manifest.json`), 'utf8'),
      ) as Manifest;
      expect([manifest.modelId, manifest.kind], m.id).toEqual([m.id, m.kind]);
    }
  });

  it('the shipped generators and the VQ fit together (grid, codebook)', () => {
    const vq = JSON.parse(
      readFileSync(resolve(root, `public/models/${index.tokenizer}/manifest.json`), 'utf8'),
    ) as Manifest;
    const vc = vq.config as unknown as VQConfig;
    const generators = index.models.filter((m) => m.kind !== 'vq').map((m) => m.id);
    expect(generators).toContain(index.defaultGenerator);
    for (const id of generators) {
      const g = (JSON.parse(readFileSync(resolve(root, `public/models/${id}/manifest.json`), 'utf8')) as Manifest)
        .config as unknown as MMambaConfig;
      expect(g.grid).toBe(vc.image_size / 2 ** (vc.ch_mult.length - 1));
      expect(g.codebook_size).toBe(vc.codebook_size);
    }
  });
});
