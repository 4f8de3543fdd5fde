// Browser tests of src/worker/weight_store.ts on its own: the module is imported into the page (Vite serves
// it) with an isolated IndexedDB database or a stub store, so these checks do not depend on the model code.
// They cover: download with progress, size + sha256 verification, IndexedDB caching (second load makes no
// request), a tampered cached shard fetched again, a damaged download failing with WeightIntegrityError,
// a full quota reported while the weights still load, the origin check, the storage report and deletion.
import { expect, test, type Page } from '@playwright/test';

const MODEL = 'vq-s'; // the smallest shipped model (about 3.6 MB)

/** Counts requests for shard files (anything .safetensors under /models/). */
function countShardRequests(page: Page): { n: number } {
  const c = { n: 0 };
  page.on('request', (r) => {
    if (/\/models\/.*\.safetensors/.test(new URL(r.url()).pathname)) c.n++;
  });
  return c;
}

test.beforeEach(async ({ page }) => {
  // A blank page on the app's origin; the store module is imported on demand.
  await page.goto('/models/index.json');
});

test('downloads with progress, verifies, caches, and reloads from IndexedDB with no request', async ({ page }) => {
  const shards = countShardRequests(page);
  const first = await page.evaluate(async (id) => {
    const ws = await import(/* @vite-ignore */ '/src/worker/weight_store.ts' as string);
    const db = `test-ws-${Math.random()}`;
    const store = new ws.WeightStore({ kv: ws.isolatedKeyValue(db) });
    const events: { kind: string; percent?: number; loadedBytes?: number; totalBytes?: number; fromCache?: boolean }[] =
      [];
    const a = await store.load(id, (p: (typeof events)[number]) => events.push(p));
    const b = await store.load(id, (p: (typeof events)[number]) => events.push({ ...p, kind: `2:${p.kind}` }));
    const report = await store.storageReport();
    return {
      db,
      fromCacheA: a.fromCache,
      fromCacheB: b.fromCache,
      persisted: a.persisted,
      bytesA: a.shards.reduce((s: number, x: ArrayBuffer) => s + x.byteLength, 0),
      bytesB: b.shards.reduce((s: number, x: ArrayBuffer) => s + x.byteLength, 0),
      total: a.manifest.shards.reduce((s: number, x: { bytes: number }) => s + x.bytes, 0),
      events,
      cached: await store.isCached(id),
      report,
    };
  }, MODEL);
  expect(first.fromCacheA).toBe(false);
  expect(first.persisted).toBe(true);
  expect(first.fromCacheB).toBe(true);
  expect(first.bytesA).toBe(first.total);
  expect(first.bytesB).toBe(first.total);
  expect(first.cached).toBe(true);
  // Download progress: bytes grow to the total, percent reaches 100, then the shard is verified.
  const dl = first.events.filter((e) => e.kind === 'download');
  expect(dl.length).toBeGreaterThan(1);
  expect(dl.at(-1)!.loadedBytes).toBe(first.total);
  expect(dl.at(-1)!.percent).toBe(100);
  expect(dl.every((e) => e.totalBytes === first.total && e.fromCache === false)).toBe(true);
  expect(first.events.some((e) => e.kind === 'verify')).toBe(true);
  // The second load read IndexedDB only.
  expect(first.events.filter((e) => e.kind.startsWith('2:download')).every((e) => e.fromCache)).toBe(true);
  expect(shards.n).toBe(1);
  expect(first.report.models).toEqual([{ id: MODEL, bytes: first.total, shards: 1 }]);
  expect(first.report.usage).not.toBeNull();

  // Deleting removes it from the report and from the cache.
  const after = await page.evaluate(
    async ({ id, db }) => {
      const ws = await import(/* @vite-ignore */ '/src/worker/weight_store.ts' as string);
      const store = new ws.WeightStore({ kv: ws.isolatedKeyValue(db) });
      await store.deleteModel(id);
      return { cached: await store.isCached(id), models: (await store.storageReport()).models };
    },
    { id: MODEL, db: first.db },
  );
  expect(after).toEqual({ cached: false, models: [] });
});

test('a tampered cached shard is fetched again and stored repaired', async ({ page }) => {
  const shards = countShardRequests(page);
  const r = await page.evaluate(async (id) => {
    const ws = await import(/* @vite-ignore */ '/src/worker/weight_store.ts' as string);
    const kv = ws.isolatedKeyValue(`test-ws-${Math.random()}`);
    const store = new ws.WeightStore({ kv });
    const a = await store.load(id);
    const key = ws.shardKey(id, a.manifest.shards[0].sha256);
    const bytes = new Uint8Array((await kv.get(key)) as ArrayBuffer);
    bytes[1000] ^= 0xff; // flip one byte
    await kv.set(key, bytes.buffer);
    const events: { kind: string; reason?: string }[] = [];
    const b = await store.load(id, (p: { kind: string }) => events.push(p));
    const repaired = await ws.sha256Hex((await kv.get(key)) as ArrayBuffer);
    return { fromCache: b.fromCache, events, repaired, expected: a.manifest.shards[0].sha256 };
  }, MODEL);
  expect(shards.n).toBe(2); // the first download and the one refetch
  const refetch = r.events.filter((e) => e.kind === 'refetch');
  expect(refetch).toHaveLength(1);
  expect(refetch[0]!.reason).toContain('sha256');
  expect(r.fromCache).toBe(false);
  expect(r.repaired).toBe(r.expected);
});

test('a damaged download is fetched once more, then fails with WeightIntegrityError', async ({ page }) => {
  const r = await page.evaluate(async (id) => {
    const ws = await import(/* @vite-ignore */ '/src/worker/weight_store.ts' as string);
    let shardFetches = 0;
    // A "proxy" that damages every shard response.
    const damaging: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!String(input).endsWith('.safetensors')) return res;
      shardFetches++;
      const b = new Uint8Array(await res.arrayBuffer());
      b[b.length - 1] ^= 1;
      return new Response(b, { status: 200 });
    };
    const store = new ws.WeightStore({ kv: ws.isolatedKeyValue(`test-ws-${Math.random()}`), fetch: damaging });
    const events: string[] = [];
    try {
      await store.load(id, (p: { kind: string }) => events.push(p.kind));
      return { ok: true, shardFetches, events, name: '', message: '' };
    } catch (e) {
      const err = e as Error;
      return {
        ok: false,
        shardFetches,
        events,
        name: err.name,
        message: err.message,
        cached: await store.isCached(id),
      };
    }
  }, MODEL);
  expect(r.ok).toBe(false);
  expect(r.name).toBe('WeightIntegrityError');
  expect(r.message).toMatch(/failed verification twice/);
  expect(r.shardFetches).toBe(2);
  expect(r.events.filter((k) => k === 'refetch')).toHaveLength(1);
});

test('a full quota is reported clearly and the weights still load from memory', async ({ page }) => {
  const r = await page.evaluate(async (id) => {
    const ws = await import(/* @vite-ignore */ '/src/worker/weight_store.ts' as string);
    const mem = new Map<string, unknown>();
    const full = {
      get: async (k: string) => mem.get(k),
      set: async (k: string, v: unknown) => {
        if (v instanceof ArrayBuffer) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        mem.set(k, v);
      },
      del: async (k: string) => void mem.delete(k),
      keys: async () => [...mem.keys()],
    };
    const store = new ws.WeightStore({ kv: full });
    const warnings: string[] = [];
    const got = await store.load(id, (p: { kind: string; message?: string }) => {
      if (p.kind === 'cache-warning') warnings.push(p.message!);
    });
    return {
      persisted: got.persisted,
      bytes: got.shards.reduce((s: number, x: ArrayBuffer) => s + x.byteLength, 0),
      warnings,
      cached: await store.isCached(id),
    };
  }, MODEL);
  expect(r.persisted).toBe(false);
  expect(r.bytes).toBeGreaterThan(1_000_000);
  expect(r.cached).toBe(false);
  expect(r.warnings).toHaveLength(1);
  expect(r.warnings[0]).toMatch(/storage is full/i);
  expect(r.warnings[0]).toMatch(/delet/i);
});

test('refuses weights from another origin', async ({ page }) => {
  const message = await page.evaluate(async () => {
    const ws = await import(/* @vite-ignore */ '/src/worker/weight_store.ts' as string);
    const store = new ws.WeightStore({
      baseUrl: 'https://example.com/models/',
      kv: ws.isolatedKeyValue('test-origin'),
    });
    try {
      await store.index();
      return 'no error';
    } catch (e) {
      return (e as Error).message;
    }
  });
  expect(message).toMatch(/another origin/);
});
