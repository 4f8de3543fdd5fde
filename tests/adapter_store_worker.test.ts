// The worker's adapter half (src/worker/finetune/service.ts) in Node on Dawn with the e2e tiny models: import
// (validated against the loaded base), list, export, delete, generation through the merged-adapter pipeline
// (cached per adapter), refusals with clear messages (damaged file, another base model, nothing trained), and a
// full storage quota: the adapter is kept in memory, listed as such, and still generates.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoraConfig, MMambaConfig } from '../src/finetune/api';
import { initAdapter } from '../src/finetune/lora';
import { TextToImage } from '../src/model/pipeline';
import { AdapterStore } from '../src/worker/finetune/adapter_store';
import { FineTuneService } from '../src/worker/finetune/service';
import { fineTunePort } from '../src/worker/finetune/port';
import type { KeyValue } from '../src/worker/weight_store';
import { getEngine } from './gpu';
import { loadModelDir } from './model_dirs';

const E2E = resolve(__dirname, '..', 'e2e', 'fixtures', 'models');
const gen = loadModelDir(`${E2E}/mmamba-e2e`);
const vq = loadModelDir(`${E2E}/vq-e2e`);
const cfg = gen.manifest.config as unknown as MMambaConfig;
const LORA: LoraConfig = { rank: 2, alpha: 2, targets: ['in_proj', 'out_proj', 'head'] };

function memoryKv(full = false): KeyValue {
  const map = new Map<string, unknown>();
  return {
    get: async <T>(k: string) => map.get(k) as T | undefined,
    set: async (k, v) => {
      if (full) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      map.set(k, v);
    },
    del: async (k) => void map.delete(k),
    keys: async () => [...map.keys()],
  };
}

function worker(kv: KeyValue) {
  return new FineTuneService(
    {
      ensureEngine: getEngine,
      models: () => ({ genId: 'mmamba-e2e', vqId: 'vq-e2e', gen, vq }),
      createPipeline: async (e, g, v) => TextToImage.create(e, g, v),
      stopGeneration: async () => undefined,
    },
    new AdapterStore(kv),
  );
}

async function adapterFile(modelId = 'mmamba-e2e', config = cfg, seed = 1): Promise<ArrayBuffer> {
  const port = await fineTunePort();
  const a = initAdapter({ modelId, config }, LORA, seed);
  // B = 0 at init leaves the model unchanged; a small B makes the merge visible.
  for (const p of a.pairs.values())
    p.B.data.forEach((_, i, d) => {
      d[i] = Math.sin(i + seed) * 2;
    });
  return port.serializeAdapter(a);
}

describe('adapters in the worker', () => {
  it('import, list, generate with it (cached merge), export, delete; a reload sees what was saved', async () => {
    const kv = memoryKv();
    const w = worker(kv);
    const bytes = await adapterFile();
    const saved = await w.importAdapter(bytes, 'zorblat');
    expect(saved.warning).toBeUndefined();
    expect(saved.adapter).toMatchObject({
      name: 'zorblat',
      baseModelId: 'mmamba-e2e',
      rank: 2,
      persisted: true,
      byteLength: bytes.byteLength,
    });
    expect((await worker(kv).listAdapters()).map((a) => a.name)).toEqual(['zorblat']); // a fresh worker: after a reload

    const baseCopy = new Map([...gen.weights].map(([k, v]) => [k, v.data.slice()]));
    const p1 = await w.pipelineFor('zorblat');
    expect(await w.pipelineFor('zorblat')).toBe(p1);
    const req = { prompt: 'a zorblat', seed: 3, steps: 2, guidance: 1 };
    const tuned = await p1.generate(req);
    const base = TextToImage.create(await getEngine(), gen, vq);
    const plain = await base.generate(req);
    base.dispose();
    expect(Array.from(tuned.tokens)).not.toEqual(Array.from(plain.tokens));
    for (const [k, v] of gen.weights) expect(v.data, k).toEqual(baseCopy.get(k)); // the base is untouched

    const out = await w.exportAdapter('zorblat');
    expect(out.fileName).toBe('zorblat.safetensors');
    expect(new Uint8Array(out.bytes)).toEqual(new Uint8Array(bytes));
    await w.deleteAdapter('zorblat');
    expect(await w.listAdapters()).toEqual([]);
    await expect(w.pipelineFor('zorblat')).rejects.toThrow(/no adapter named "zorblat"/);
    w.dropGpu();
  });

  it('refuses damaged files, adapters of another model, and saving before training, with clear messages', async () => {
    const w = worker(memoryKv());
    await expect(
      w.importAdapter(new TextEncoder().encode('not safetensors').buffer as ArrayBuffer, 'broken'),
    ).rejects.toThrow(/Could not import "broken": .*adapter/i);
    const bytes = new Uint8Array(await adapterFile());
    bytes[bytes.length - 3] ^= 0xff; // a damaged value may still parse; a damaged header must not
    bytes[10] ^= 0x55;
    await expect(w.importAdapter(bytes.buffer, 'tampered')).rejects.toThrow(/Could not import "tampered"/);
    const other = loadModelDir(resolve(__dirname, 'fixtures', 'mmamba_tiny'));
    const foreign = await adapterFile('mmamba-tiny-fixture', other.manifest.config as unknown as MMambaConfig);
    await expect(w.importAdapter(foreign, 'foreign')).rejects.toThrow(/Could not import "foreign"/);
    await expect(w.importAdapter(new ArrayBuffer(0), 'empty')).rejects.toThrow(/empty/);
    await expect(w.importAdapter(await adapterFile(), 'a/b')).rejects.toThrow(/Adapter name/);
    await expect(w.saveAdapter('x')).rejects.toThrow(/no trained adapter/);
    expect(await w.listAdapters()).toEqual([]);
  });

  it('storage full: the adapter is kept in memory, listed as memory-only, and generates', async () => {
    const w = worker(memoryKv(true));
    const r = await w.importAdapter(await adapterFile(), 'zorblat');
    expect(r.warning).toMatch(/storage is full/i);
    expect(r.adapter.persisted).toBe(false);
    expect(await w.listAdapters()).toEqual([expect.objectContaining({ name: 'zorblat', persisted: false })]);
    const out = await (await w.pipelineFor('zorblat')).generate({
      prompt: 'a zorblat',
      seed: 1,
      steps: 1,
      guidance: 1,
    });
    expect(out.tokens.length).toBe(cfg.grid * cfg.grid);
    expect((await w.exportAdapter('zorblat')).bytes.byteLength).toBe(r.adapter.byteLength);
    w.dropGpu();
  });
});
