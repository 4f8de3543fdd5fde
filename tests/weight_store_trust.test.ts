// WeightStore's trust in a cached model (src/worker/weight_store.ts): the cached manifest must list the shard
// sha256s that models/index.json lists, not only the same byte total, so a re-export of identical size (a
// retrained int8 model) is downloaded again. Runs in Node with an in-memory key-value store and a stub fetch.
import { describe, expect, it } from 'vitest';
import { manifestMatchesEntry, sha256Hex, WeightStore } from '../src/worker/weight_store';
import { memoryKv } from './memory_kv';

const ORIGIN = 'http://127.0.0.1:1';

/** A model server whose shard can be swapped for another of the same size; counts shard requests. */
async function server(withShas: boolean) {
  const files = new Map<string, ArrayBuffer | string>();
  const counts = { shards: 0, manifests: 0 };
  const publish = async (fill: number) => {
    const shard = new Uint8Array(4096).fill(fill).buffer;
    const sha256 = await sha256Hex(shard);
    const shards = [{ file: 'model-00000.safetensors', bytes: shard.byteLength, sha256 }];
    files.set('/models/m/model-00000.safetensors', shard);
    files.set(
      '/models/m/manifest.json',
      JSON.stringify({ format: 'mmamba-weights', formatVersion: 1, modelId: 'm', kind: 'vq', shards }),
    );
    const entry = {
      id: 'm',
      kind: 'vq',
      name: 'm',
      formatVersion: 1,
      bytes: shard.byteLength,
      ...(withShas ? { shardSha256: [sha256] } : {}),
    };
    files.set('/models/index.json', JSON.stringify({ models: [entry], defaultGenerator: 'm', tokenizer: 'm' }));
    return sha256;
  };
  const fetchStub = (async (input: RequestInfo | URL) => {
    const path = new URL(String(input)).pathname;
    if (path.endsWith('.safetensors')) counts.shards++;
    if (path.endsWith('manifest.json')) counts.manifests++;
    const body = files.get(path);
    return body === undefined ? new Response('missing', { status: 404 }) : new Response(body);
  }) as typeof fetch;
  return { publish, counts, fetchStub };
}

describe('cached-model trust', () => {
  it('a re-export of the same size is fetched again when the index lists shard sha256s', async () => {
    const s = await server(true);
    const store = new WeightStore({ origin: ORIGIN, kv: memoryKv(), fetch: s.fetchStub });
    const shaA = await s.publish(1);
    expect((await store.load('m')).fromCache).toBe(false);
    const again = await store.load('m');
    expect(again.fromCache).toBe(true);
    expect(s.counts.shards).toBe(1);
    const shaB = await s.publish(2); // same byte size, other contents
    expect(shaB).not.toBe(shaA);
    const fresh = await store.load('m');
    expect(fresh.fromCache).toBe(false);
    expect(fresh.manifest.shards[0]!.sha256).toBe(shaB);
    expect(await sha256Hex(fresh.shards[0]!)).toBe(shaB);
    expect(s.counts.shards).toBe(2);
    expect((await store.load('m')).fromCache).toBe(true); // and the new copy is trusted from then on
    expect(s.counts.shards).toBe(2);
  });

  it('an index without shard sha256s falls back to the byte total (older deployments)', async () => {
    const s = await server(false);
    const store = new WeightStore({ origin: ORIGIN, kv: memoryKv(), fetch: s.fetchStub });
    const shaA = await s.publish(1);
    await store.load('m');
    await s.publish(2);
    const r = await store.load('m');
    expect(r.fromCache).toBe(true);
    expect(r.manifest.shards[0]!.sha256).toBe(shaA);
  });

  it('manifestMatchesEntry compares totals, then the sha256 list in order', () => {
    const m = {
      shards: [
        { file: 'a.safetensors', bytes: 3, sha256: 'x' },
        { file: 'b.safetensors', bytes: 4, sha256: 'y' },
      ],
    };
    expect(manifestMatchesEntry(m, { bytes: 7 })).toBe(true);
    expect(manifestMatchesEntry(m, { bytes: 8 })).toBe(false);
    expect(manifestMatchesEntry(m, { bytes: 7, shardSha256: ['x', 'y'] })).toBe(true);
    expect(manifestMatchesEntry(m, { bytes: 7, shardSha256: ['y', 'x'] })).toBe(false);
    expect(manifestMatchesEntry(m, { bytes: 7, shardSha256: ['x'] })).toBe(false);
  });
});
