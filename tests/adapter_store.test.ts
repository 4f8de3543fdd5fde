// Adapter store (src/worker/finetune/adapter_store.ts) on an in-memory key-value stub: versioned keys per base model,
// list/get/delete, name validation, and a full quota reported as AdapterQuotaError with nothing half-written.
import { describe, expect, it } from 'vitest';
import {
  AdapterNameError,
  AdapterQuotaError,
  AdapterStore,
  adapterKey,
  checkAdapterName,
  type StoredAdapter,
} from '../src/worker/finetune/adapter_store';
import type { KeyValue } from '../src/worker/weight_store';

function memoryKv(opts: { full?: boolean } = {}): KeyValue & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return {
    map,
    get: async <T>(k: string) => map.get(k) as T | undefined,
    set: async (k, v) => {
      if (opts.full) throw Object.assign(new Error('The quota has been exceeded.'), { name: 'QuotaExceededError' });
      map.set(k, v);
    },
    del: async (k) => void map.delete(k),
    keys: async () => [...map.keys()],
  };
}

const adapter = (name: string, base = 'mmamba-s', savedAt = 1): StoredAdapter => ({
  name,
  baseModelId: base,
  bytes: new Uint8Array([1, 2, 3, 4]).buffer,
  savedAt,
  rank: 4,
  steps: 100,
});

describe('AdapterStore', () => {
  it('saves under adapters/v1/<base>/<name>, lists newest first per base, gets and deletes', async () => {
    const kv = memoryKv();
    const store = new AdapterStore(kv);
    const row = await store.save(adapter('  zorblat  ', 'mmamba-s', 10));
    expect(row).toEqual({ name: 'zorblat', baseModelId: 'mmamba-s', savedAt: 10, rank: 4, steps: 100, byteLength: 4 });
    expect(kv.map.has('adapters/v1/mmamba-s/zorblat')).toBe(true);
    expect(adapterKey('mmamba-s', 'zorblat')).toBe('adapters/v1/mmamba-s/zorblat');
    await store.save(adapter('glimmet', 'mmamba-s', 20));
    await store.save(adapter('other-base', 'uvit-s', 30));
    expect((await store.list('mmamba-s')).map((r) => r.name)).toEqual(['glimmet', 'zorblat']);
    expect((await store.list('uvit-s')).map((r) => r.name)).toEqual(['other-base']);
    expect(new Uint8Array((await store.get('mmamba-s', 'zorblat'))!.bytes)).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(await store.get('uvit-s', 'zorblat')).toBeNull();
    await store.delete('mmamba-s', 'zorblat');
    expect((await store.list('mmamba-s')).map((r) => r.name)).toEqual(['glimmet']);
  });

  it('refuses bad names with a message saying what a good one is', async () => {
    expect(() => checkAdapterName('   ')).toThrow(AdapterNameError);
    expect(() => checkAdapterName('a/b')).toThrow(/no "\/"/);
    expect(() => checkAdapterName('x'.repeat(65))).toThrow(/too long/);
    expect(() => checkAdapterName('tab\there')).toThrow(/control/);
    expect(checkAdapterName(' zorblat v2 ')).toBe('zorblat v2');
    await expect(new AdapterStore(memoryKv()).save(adapter(''))).rejects.toBeInstanceOf(AdapterNameError);
  });

  it('a full quota rejects with AdapterQuotaError and a message that says the adapter is kept in memory', async () => {
    const kv = memoryKv({ full: true });
    const err = await new AdapterStore(kv).save(adapter('zorblat')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterQuotaError);
    expect((err as Error).message).toMatch(/storage is full/i);
    expect((err as Error).message).toMatch(/stays usable/);
    expect(kv.map.size).toBe(0);
  });

  it('ignores entries that are not adapters', async () => {
    const kv = memoryKv();
    kv.map.set('adapters/v1/mmamba-s/broken', { name: 'broken' });
    kv.map.set('weights/v1/mmamba-s/manifest', {});
    expect(await new AdapterStore(kv).list('mmamba-s')).toEqual([]);
    expect(await new AdapterStore(kv).get('mmamba-s', 'broken')).toBeNull();
  });
});
