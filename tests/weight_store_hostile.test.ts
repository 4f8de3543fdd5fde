// WeightStore (src/worker/weight_store.ts) against a hostile or broken server, in Node with a stub fetch and an
// in-memory key-value store: a request that never answers and a body that stops mid-way are aborted after the stall
// timeout and retried once, then fail with a message; a 600 MiB answer for a small shard is cancelled as soon as it
// passes the shard's size (never read to the end); an index.json whose `bytes` disagree with the manifest costs a
// manifest request and a warning, never a re-download; oversized JSON is refused.
import { describe, expect, it } from 'vitest';
import { MAX_JSON_BYTES, sha256Hex, WeightStore, type WeightProgress } from '../src/worker/weight_store';
import { memoryKv } from './memory_kv';

const ORIGIN = 'http://127.0.0.1:1';
const STALL_MS = 60;

type Behaviour = 'ok' | 'hang' | 'stall-body' | 'flood' | 'flood-declared';

/** A model "m" of one 101 KB shard; `shardBehaviour()` decides each shard request's fate. Counts requests and the
 *  bytes the flood actually handed out. */
async function server(opts: { indexBytes?: number } = {}) {
  const shard = new Uint8Array(101 * 1024).map((_, i) => (i * 7) & 255).buffer;
  const sha256 = await sha256Hex(shard);
  const manifest = JSON.stringify({
    format: 'mmamba-weights',
    formatVersion: 1,
    modelId: 'm',
    kind: 'vq',
    shards: [{ file: 'model-00000.safetensors', bytes: shard.byteLength, sha256 }],
  });
  const index = JSON.stringify({
    models: [{ id: 'm', kind: 'vq', name: 'm', formatVersion: 1, bytes: opts.indexBytes ?? shard.byteLength }],
    defaultGenerator: 'm',
    tokenizer: 'm',
  });
  const state = { shards: 0, manifests: 0, floodBytes: 0, plan: [] as Behaviour[] };
  const fetchStub = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const path = new URL(String(input)).pathname;
    if (path === '/models/index.json') return new Response(index);
    if (path === '/models/m/manifest.json') {
      state.manifests++;
      return new Response(manifest);
    }
    if (path !== '/models/m/model-00000.safetensors') return new Response('missing', { status: 404 });
    state.shards++;
    const how = state.plan.shift() ?? 'ok';
    const signal = init?.signal;
    if (how === 'hang')
      return new Promise<Response>((_, reject) =>
        signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))),
      );
    if (how === 'stall-body') {
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new Uint8Array(shard, 0, 1000));
        },
        pull: () => new Promise(() => undefined), // never another byte
      });
      return new Response(body);
    }
    if (how === 'flood' || how === 'flood-declared') {
      const total = 600 * 1024 * 1024;
      const chunk = new Uint8Array(1024 * 1024);
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (state.floodBytes >= total) return c.close();
          state.floodBytes += chunk.byteLength;
          c.enqueue(chunk.slice());
        },
      });
      return new Response(
        body,
        how === 'flood-declared' ? { headers: { 'content-length': String(total) } } : undefined,
      );
    }
    return new Response(shard);
  }) as typeof fetch;
  return { state, fetchStub, sha256 };
}

function store(fetchStub: typeof fetch, kv = memoryKv()) {
  return new WeightStore({ origin: ORIGIN, kv, fetch: fetchStub, stallMs: STALL_MS });
}

describe('downloads that stall or overrun', () => {
  it('a shard request that never answers is aborted after the stall timeout and retried once; twice fails with a message', async () => {
    const s = await server();
    s.state.plan = ['hang', 'ok'];
    const events: WeightProgress[] = [];
    const r = await store(s.fetchStub).load('m', (p) => events.push(p));
    expect(r.fromCache).toBe(false);
    expect(events.find((e) => e.kind === 'refetch')).toMatchObject({
      reason: expect.stringMatching(/no data arrived for 0 s \(the connection stalled\)/),
    });
    // The progress label names this model at 0 % from the start, not the model loaded before it at 100 %.
    expect(events[0]).toMatchObject({ kind: 'download', modelId: 'm', loadedBytes: 0, percent: 0, fromCache: false });
    s.state.plan = ['hang', 'hang'];
    const t0 = performance.now();
    await expect(store(s.fetchStub).load('m')).rejects.toThrow(
      /model-00000.safetensors: no data arrived .*, twice; model "m" could not be loaded/,
    );
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('a body that stops after 1000 bytes is aborted too', async () => {
    const s = await server();
    s.state.plan = ['stall-body', 'stall-body'];
    await expect(store(s.fetchStub).load('m')).rejects.toThrow(/the connection stalled/);
    expect(s.state.shards).toBe(2);
  });

  it('a 600 MiB answer for a 101 KB shard is cancelled once past 101 KB (read at most one chunk too far), then retried', async () => {
    const s = await server();
    s.state.plan = ['flood', 'flood'];
    const events: WeightProgress[] = [];
    await expect(store(s.fetchStub).load('m', (p) => events.push(p))).rejects.toThrow(
      /sent \d+ bytes or more, expected at most 103424, twice/,
    );
    // Two attempts, each stopped at its first 1 MiB chunk (a stream may pull one more ahead): far from 2 × 600 MiB.
    expect(s.state.floodBytes).toBeLessThanOrEqual(4 * 1024 * 1024);
    const maxReported = Math.max(
      ...events.filter((e) => e.kind === 'download').map((e) => (e as { loadedBytes: number }).loadedBytes),
    );
    expect(maxReported).toBeLessThanOrEqual(101 * 1024);
  });

  it('a declared Content-Length over the shard size is refused before reading the body', async () => {
    const s = await server();
    s.state.plan = ['flood-declared', 'ok'];
    const r = await store(s.fetchStub).load('m');
    expect(r.shards[0]!.byteLength).toBe(101 * 1024);
    expect(s.state.floodBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
  });
});

describe('an index.json that disagrees with the manifest', () => {
  it('a wrong `bytes` costs a manifest request and a warning per visit, never a second shard download', async () => {
    const s = await server({ indexBytes: 999 });
    const kv = memoryKv();
    const first: WeightProgress[] = [];
    expect((await store(s.fetchStub, kv).load('m', (p) => first.push(p))).fromCache).toBe(false);
    expect(first.find((e) => e.kind === 'cache-warning')).toMatchObject({
      message: expect.stringMatching(
        /index.json describes model "m" differently from its manifest \(999 vs 103424 bytes\)/,
      ),
    });
    const second: WeightProgress[] = [];
    const again = await store(s.fetchStub, kv).load('m', (p) => second.push(p));
    expect(again.fromCache).toBe(true);
    expect(s.state.shards).toBe(1);
    expect(s.state.manifests).toBe(2);
    expect(second.some((e) => e.kind === 'cache-warning')).toBe(true);
  });

  it(`JSON over ${MAX_JSON_BYTES} bytes is refused while streaming`, async () => {
    const big = (async () => new Response(new Uint8Array(MAX_JSON_BYTES + 10).fill(0x20))) as unknown as typeof fetch;
    await expect(store(big).index()).rejects.toThrow(
      /index.json: the server sent \d+ bytes or more, expected at most 4194304/,
    );
  });
});

describe('odd model ids from outside', () => {
  it('deleteModel refuses ids that are not model ids (and touches nothing)', async () => {
    const kv = memoryKv();
    await kv.set('weights/v1/m/manifest', {});
    const s = new WeightStore({
      origin: ORIGIN,
      kv,
      fetch: (async () => new Response('', { status: 404 })) as unknown as typeof fetch,
    });
    for (const id of ['', '..', 'm/../x', null, 7])
      await expect(s.deleteModel(id as string)).rejects.toThrow(/There is no model .* to delete/);
    expect(await kv.keys()).toEqual(['weights/v1/m/manifest']);
  });
});

describe('oversized or malformed lists in index.json and manifests', () => {
  const serve = (files: Record<string, unknown>) =>
    (async (input: RequestInfo | URL) => {
      const body = files[new URL(String(input)).pathname];
      return body === undefined ? new Response('missing', { status: 404 }) : new Response(JSON.stringify(body));
    }) as unknown as typeof fetch;
  const entry = (id: string) => ({ id, kind: 'vq', name: id, formatVersion: 1, bytes: 4 });

  it('an index.json listing 10,000 models, or a model with bytes "lots", is refused with a message', async () => {
    const many = {
      models: Array.from({ length: 10_000 }, (_, i) => entry(`m${i}`)),
      defaultGenerator: 'm0',
      tokenizer: 'm0',
    };
    await expect(store(serve({ '/models/index.json': many })).index()).rejects.toThrow(
      /lists 10000 models; at most 256 are read/,
    );
    const bad = { models: [{ ...entry('m'), bytes: 'lots' }], defaultGenerator: 'm', tokenizer: 'm' };
    await expect(store(serve({ '/models/index.json': bad })).index()).rejects.toThrow(/model "m" has bad bytes "lots"/);
  });

  it('an index.json whose generator recommends sampling settings out of range, or a VQ with any, is refused', async () => {
    const gen = (sampling: unknown) => ({
      models: [{ ...entry('g'), kind: 'mmamba', sampling }, entry('v')],
      defaultGenerator: 'g',
      tokenizer: 'v',
    });
    const ok = await store(serve({ '/models/index.json': gen({ steps: 12, guidance: 3 }) })).index();
    expect(ok.models[0]?.sampling).toEqual({ steps: 12, guidance: 3 });
    await expect(store(serve({ '/models/index.json': gen({ guidance: 99 }) })).index()).rejects.toThrow(
      /model "g": sampling: guidance is 99; it must be a number from 0 to 20/,
    );
    await expect(store(serve({ '/models/index.json': gen('fast') })).index()).rejects.toThrow(
      /model "g": sampling is "fast"; it must be an object/,
    );
    const vq = { models: [{ ...entry('v'), sampling: { steps: 4 } }], defaultGenerator: 'v', tokenizer: 'v' };
    await expect(store(serve({ '/models/index.json': vq })).index()).rejects.toThrow(
      /"v" is the tokenizer; only generators have sampling/,
    );
  });

  it('a manifest of 5,000 shards is refused before any shard is requested (100,000 already fail the 4 MiB cap)', async () => {
    const shards = Array.from({ length: 5_000 }, (_, i) => ({
      file: `s${i}.safetensors`,
      bytes: 4,
      sha256: '0'.repeat(64),
    }));
    const files = {
      '/models/index.json': { models: [{ ...entry('m'), bytes: 20_000 }], defaultGenerator: 'm', tokenizer: 'm' },
      '/models/m/manifest.json': { format: 'mmamba-weights', formatVersion: 1, modelId: 'm', kind: 'vq', shards },
    };
    await expect(store(serve(files)).load('m')).rejects.toThrow(/5000 shards \(at most 1024\)/);
  });
});
