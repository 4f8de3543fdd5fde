// Hostile adapter imports through the worker's real import path (src/worker/finetune/service.ts importAdapter → the
// adapter format → the adapter store), with the e2e tiny base model and no GPU (import never touches it): a
// million-entry header, trailing bytes of 60 MiB, a file over the size cap, factors of 3e38, and two tabs importing
// the same name at once. Each is refused quickly with a message; nothing is stored.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoraConfig, MMambaConfig } from '../src/finetune/api';
import { MAX_ADAPTER_FILE_BYTES } from '../src/finetune/api';
import {
  MAX_ADAPTER_ENTRIES,
  MAX_MERGED_NORM_RATIO,
  mergedWeightsProblem,
  parseAdapter,
} from '../src/finetune/adapter_format';
import { initAdapter } from '../src/finetune/lora';
import { loadWeights, type Manifest } from '../src/model/weights';
import { AdapterStore } from '../src/worker/finetune/adapter_store';
import { FineTuneService } from '../src/worker/finetune/service';
import { fineTunePort } from '../src/worker/finetune/port';
import type { KeyValue } from '../src/worker/weight_store';
import { freshSeed, rng } from './gpu';

const DIR = resolve(__dirname, '..', 'e2e', 'fixtures', 'models', 'mmamba-e2e');
const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as Manifest;
const shard = readFileSync(`${DIR}/${manifest.shards[0]!.file}`);
const gen = {
  manifest,
  weights: loadWeights(manifest, [
    shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength) as ArrayBuffer,
  ]),
};
const cfg = manifest.config as unknown as MMambaConfig;
const LORA: LoraConfig = { rank: 2, alpha: 2, targets: ['in_proj', 'out_proj', 'head'] };

/** A KeyValue in memory whose every call yields to the event loop first (as IndexedDB does), so two imports
 * interleave. */
function slowKv(): KeyValue & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  const tick = () => new Promise((r) => setTimeout(r, 2));
  return {
    map,
    get: async <T>(k: string) => (await tick(), map.get(k) as T | undefined),
    set: async (k, v) => void (await tick(), map.set(k, v)),
    del: async (k) => void (await tick(), map.delete(k)),
    keys: async () => (await tick(), [...map.keys()]),
  };
}

function worker(kv: KeyValue) {
  return new FineTuneService(
    {
      ensureEngine: () => Promise.reject(new Error('import must not need the GPU')),
      models: () => ({ genId: 'mmamba-e2e', vqId: 'vq-e2e', gen, vq: gen }),
      createPipeline: () => Promise.reject(new Error('import must not build a pipeline')),
      stopGeneration: async () => undefined,
    },
    new AdapterStore(kv),
  );
}

/** A trained-looking adapter: B filled with small seeded values (`scale` multiplies them; `aScale` the init A). */
async function adapterFile(seed: number, scale = 0.01, aScale = 1): Promise<ArrayBuffer> {
  const port = await fineTunePort();
  const a = initAdapter({ modelId: 'mmamba-e2e', config: cfg }, LORA, seed);
  const r = rng(seed);
  for (const p of a.pairs.values()) {
    p.B.data.forEach((_, i, d) => {
      d[i] = (2 * r() - 1) * scale;
    });
    p.A.data.forEach((x, i, d) => {
      d[i] = x * aScale;
    });
  }
  return port.serializeAdapter(a);
}

/** A safetensors file: u64 header length, `header` (JSON text), then `data` bytes. */
function rawFile(header: string, dataBytes = 0): ArrayBuffer {
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + head.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  return out.buffer;
}

function withTrailing(file: ArrayBuffer, extra: number): ArrayBuffer {
  const out = new Uint8Array(file.byteLength + extra);
  out.set(new Uint8Array(file));
  out.fill(0x41, file.byteLength);
  return out.buffer;
}

describe('hostile adapter imports', () => {
  const seed = freshSeed();

  it(`a valid adapter imports (seed ${seed}); the same bytes plus 60 MiB of trailing junk are refused fast, nothing stored`, async () => {
    const kv = slowKv();
    const w = worker(kv);
    const good = await adapterFile(seed);
    await expect(w.importAdapter(good, 'ok')).resolves.toMatchObject({ adapter: { name: 'ok', persisted: true } });
    const t0 = performance.now();
    await expect(w.importAdapter(withTrailing(good, 60 * 1024 * 1024), 'junk')).rejects.toThrow(
      /Could not import "junk": not a valid adapter file: 62914560 bytes after the header belong to no tensor/,
    );
    expect(performance.now() - t0).toBeLessThan(3000);
    await expect(w.importAdapter(withTrailing(good, 3), 'junk3')).rejects.toThrow(
      /3 bytes after the header belong to no tensor/,
    );
    expect([...kv.map.keys()].some((k) => k.includes('junk'))).toBe(false);
  });

  it('a file over the size cap is refused by size, with a message (not a raw storage error)', async () => {
    const w = worker(slowKv());
    const big = new ArrayBuffer(MAX_ADAPTER_FILE_BYTES + 1);
    await expect(w.importAdapter(big, 'huge')).rejects.toThrow(
      /Could not import "huge": the file is 64\.0 MB; an adapter is at most 64 MB/,
    );
  });

  it('a header of a million entries is refused before parsing, and so is a small header of too many entries', async () => {
    const million = `{${Array.from({ length: 1_000_000 }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`).join(',')}}`;
    const t0 = performance.now();
    expect(() => parseAdapter(rawFile(million), { modelId: 'mmamba-e2e', config: cfg })).toThrow(
      /header length \d+ is over the 1024 KiB/,
    );
    const many = `{${Array.from({ length: MAX_ADAPTER_ENTRIES + 10 }, (_, i) => `"${i}":{}`).join(',')}}`;
    expect(() => parseAdapter(rawFile(many), { modelId: 'mmamba-e2e', config: cfg })).toThrow(/at most 4096/);
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('factors of 3e38 (finite, but B·A overflows) and factors that dwarf the base are refused; a trained-size one passes', async () => {
    const w = worker(slowKv());
    await expect(w.importAdapter(await adapterFile(seed, 3e38, 1e30), 'overflow')).rejects.toThrow(
      /Could not import "overflow": merging it makes .* non-finite/,
    );
    await expect(w.importAdapter(await adapterFile(seed, 3e38), 'f3e38')).rejects.toThrow(
      /Could not import "f3e38": merging it makes .*e\+3\d× its base size/,
    );
    await expect(w.importAdapter(await adapterFile(seed, 1e4), 'huge-norm')).rejects.toThrow(
      new RegExp(`its base size \\(at most ${MAX_MERGED_NORM_RATIO}×\\)`),
    );
    const ref = { modelId: 'mmamba-e2e', config: cfg };
    expect(mergedWeightsProblem(gen.weights, parseAdapter(await adapterFile(seed, 0.01), ref))).toBe('');
  });

  it('two tabs importing the same name at once: exactly one wins, the other is told the name is taken', async () => {
    const kv = slowKv();
    const [a, b] = [worker(kv), worker(kv)]; // two workers (two tabs) on one IndexedDB
    const results = await Promise.allSettled([
      a.importAdapter(await adapterFile(seed), 'zorblat'),
      b.importAdapter(await adapterFile(seed + 1), 'zorblat'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(String(lost.reason)).toMatch(/An adapter named "zorblat" already exists for this model/);
    await expect(a.importAdapter(await adapterFile(seed), 'zorblat')).rejects.toThrow(/already exists/);
  });
});
