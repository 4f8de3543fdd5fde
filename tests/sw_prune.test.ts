// public/sw.js on activate: entries of older `mm-shell-*` caches move into the current cache, older caches are
// deleted, and hashed build assets that no cached page reaches (through script tags, JS imports and
// `new URL(…, import.meta.url)`) are pruned, while the ones the cached page uses stay. A fresh navigation response
// (a new build's page) prunes the previous build's assets too. The worker script runs in a Node `vm` context with an
// in-memory Cache Storage; no browser needed.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';

const ORIGIN = 'http://127.0.0.1:5199';
const SW = readFileSync(resolve(__dirname, '../public/sw.js'), 'utf8');

interface Entry {
  body: string;
  type: string;
}

/** Cache Storage in memory: enough of the API for sw.js (open, keys, delete, match, put). */
function cacheStorage() {
  const caches = new Map<string, Map<string, Entry>>();
  const url = (r: Request | string) => new URL(typeof r === 'string' ? r : r.url, ORIGIN).href;
  const cacheOf = (entries: Map<string, Entry>) => ({
    keys: async () => [...entries.keys()].map((u) => new Request(u)),
    match: async (r: Request | string) => {
      const e = entries.get(url(r));
      return e ? new Response(e.body, { headers: { 'content-type': e.type } }) : undefined;
    },
    put: async (r: Request | string, res: Response) =>
      void entries.set(url(r), { body: await res.text(), type: res.headers.get('content-type') ?? '' }),
    delete: async (r: Request | string) => entries.delete(url(r)),
  });
  const api = {
    open: async (name: string) => {
      if (!caches.has(name)) caches.set(name, new Map());
      return cacheOf(caches.get(name)!);
    },
    keys: async () => [...caches.keys()],
    delete: async (name: string) => caches.delete(name),
  };
  const fill = (name: string, files: Record<string, string>) => {
    const m = new Map<string, Entry>();
    for (const [path, body] of Object.entries(files)) {
      const type = path.endsWith('.js')
        ? 'text/javascript'
        : path.endsWith('.css')
          ? 'text/css'
          : path.endsWith('.json')
            ? 'application/json'
            : 'text/html';
      m.set(new URL(path, ORIGIN).href, { body, type });
    }
    caches.set(name, m);
  };
  const paths = (name: string) => [...(caches.get(name)?.keys() ?? [])].map((u) => new URL(u).pathname).sort();
  return { api, fill, paths, names: () => [...caches.keys()] };
}

/** Loads sw.js into a fresh context; returns its event handlers. */
function loadWorker(
  caches: ReturnType<typeof cacheStorage>,
  fetchFn: (r: Request) => Promise<Response> = async () => new Response('', { status: 404 }),
) {
  const handlers = new Map<string, (e: unknown) => void>();
  const self = {
    location: new URL(ORIGIN),
    registration: { scope: `${ORIGIN}/` },
    clients: { claim: async () => undefined, matchAll: async () => [] },
    skipWaiting: () => undefined,
    addEventListener: (type: string, fn: (e: unknown) => void) => handlers.set(type, fn),
  };
  runInNewContext(SW, {
    self,
    caches: caches.api,
    fetch: fetchFn,
    URL,
    Request,
    Response,
    console,
    Promise,
    Set,
    Map,
    Date,
  });
  /** Dispatches an event and waits for everything it passed to waitUntil (and respondWith). */
  const dispatch = async (type: string, extra: Record<string, unknown> = {}) => {
    const waits: Promise<unknown>[] = [];
    handlers.get(type)!({
      ...extra,
      waitUntil: (p: Promise<unknown>) => waits.push(p),
      respondWith: (p: Promise<unknown>) => waits.push(p),
    });
    // waitUntil may be called from inside respondWith's promise: settle in rounds
    for (let n = 0; n < waits.length; n++) await waits[n];
  };
  return { dispatch };
}

/** Marks a response (and its clones) as a same-origin 'basic' one, as a browser's fetch returns; Node's are
 * 'default'. */
function basic(res: Response): Response {
  const clone = res.clone.bind(res);
  return Object.defineProperties(res, { type: { value: 'basic' }, clone: { value: () => basic(clone()) } });
}

const page = (entry: string) =>
  `<!doctype html><html><head><script type="module" src="${entry}"></script></head><body></body></html>`;

describe('sw.js pruning', () => {
  it('on activate: moves older caches in, deletes them, prunes hashed assets no cached page reaches', async () => {
    const c = cacheStorage();
    c.fill('mm-shell-v0', {
      '/': page('/assets/index-NEWa1b2c3d4.js'),
      '/assets/index-NEWa1b2c3d4.js': `import "./chunk-NEWe5f6g7h8.js"; const w = new URL("./worker-NEWi9j0k1l2.js", import.meta.url);`,
      '/assets/chunk-NEWe5f6g7h8.js': 'export const x = 1;',
      '/assets/worker-NEWi9j0k1l2.js': 'import("./lazy-NEWm3n4o5p6.js");',
      '/assets/lazy-NEWm3n4o5p6.js': 'export {};',
      '/assets/index-OLDq7r8s9t0.js': 'import "./chunk-OLDu1v2w3x4.js";',
      '/assets/chunk-OLDu1v2w3x4.js': '',
      '/assets/style-OLDy5z6a7b8.css': 'body{}',
      '/models/index.json': '{"models":[]}',
    });
    c.fill('mm-shell-v1', { '/assets/stale-OLDc9d0e1f2.js': '', '/models/index.json': '{"models":[{"id":"new"}]}' });
    const sw = loadWorker(c);
    await sw.dispatch('activate');
    expect(c.names()).toEqual(['mm-shell-v1']);
    expect(c.paths('mm-shell-v1')).toEqual([
      '/',
      '/assets/chunk-NEWe5f6g7h8.js',
      '/assets/index-NEWa1b2c3d4.js',
      '/assets/lazy-NEWm3n4o5p6.js',
      '/assets/worker-NEWi9j0k1l2.js',
      '/models/index.json',
    ]);
    // the current cache's copy wins over an older cache's
    const idx = await (await (await c.api.open('mm-shell-v1')).match('/models/index.json'))!.text();
    expect(idx).toContain('new');
  });

  it("a fresh navigation response (a new build's page) prunes the previous build's assets", async () => {
    const c = cacheStorage();
    c.fill('mm-shell-v1', {
      '/': page('/assets/index-OLDq7r8s9t0.js'),
      '/assets/index-OLDq7r8s9t0.js': '',
      '/sw-unrelated.json': '{}',
    });
    const sw = loadWorker(c, async (r) => {
      if (new URL(r.url).pathname !== '/') return new Response('', { status: 404 });
      return basic(new Response(page('/assets/index-NEWa1b2c3d4.js'), { headers: { 'content-type': 'text/html' } }));
    });
    const request = new Request(`${ORIGIN}/`);
    Object.defineProperty(request, 'mode', { value: 'navigate' }); // Node's Request refuses to be constructed as one
    await sw.dispatch('fetch', { request });
    expect(c.paths('mm-shell-v1')).toEqual(['/', '/sw-unrelated.json']);
  });

  it('without hashed assets (dev server) nothing is pruned', async () => {
    const c = cacheStorage();
    c.fill('mm-shell-v1', { '/': page('/src/main.ts'), '/src/main.ts': '', '/src/orphan.ts': '' });
    await loadWorker(c).dispatch('activate');
    expect(c.paths('mm-shell-v1')).toEqual(['/', '/src/main.ts', '/src/orphan.ts']);
  });
});

describe('sw.js and query strings (pages are cached by path)', () => {
  /** A navigation request (Node's Request refuses to be constructed as one). */
  const navigate = (path: string) => {
    const r = new Request(`${ORIGIN}${path}`);
    Object.defineProperty(r, 'mode', { value: 'navigate' });
    return r;
  };

  it('navigations to /?junk=N share the entry of /; after a new build the old build is neither kept nor served', async () => {
    const c = cacheStorage();
    let build = 'OLDq7r8s9t0';
    const sw = loadWorker(c, async (r) => {
      const path = new URL(r.url).pathname;
      if (path === '/')
        return basic(new Response(page(`/assets/index-${build}.js`), { headers: { 'content-type': 'text/html' } }));
      if (path.startsWith('/assets/'))
        return basic(new Response('export {};', { headers: { 'content-type': 'text/javascript' } }));
      return new Response('', { status: 404 });
    });
    for (let n = 0; n < 20; n++) await sw.dispatch('fetch', { request: navigate(`/?junk=${n}`) });
    await sw.dispatch('fetch', { request: new Request(`${ORIGIN}/assets/index-OLDq7r8s9t0.js`) });
    expect(c.paths('mm-shell-v1')).toEqual(['/', '/assets/index-OLDq7r8s9t0.js']);
    expect([...(await (await c.api.open('mm-shell-v1')).keys())].map((r) => r.url)).not.toContain(`${ORIGIN}/?junk=3`);

    build = 'NEWa1b2c3d4';
    await sw.dispatch('fetch', { request: navigate('/?junk=99') });
    await sw.dispatch('fetch', { request: new Request(`${ORIGIN}/assets/index-NEWa1b2c3d4.js`) });
    expect(c.paths('mm-shell-v1')).toEqual(['/', '/assets/index-NEWa1b2c3d4.js']);
    const shell = await (await (await c.api.open('mm-shell-v1')).match(`${ORIGIN}/`))!.text();
    expect(shell).toContain('index-NEWa1b2c3d4.js'); // offline, /?junk=3 gets the new build's page
  });

  it('on activate, pages an older worker cached under a query string are dropped (and their assets pruned)', async () => {
    const c = cacheStorage();
    c.fill('mm-shell-v1', {
      '/': page('/assets/index-NEWa1b2c3d4.js'),
      '/?junk=1': page('/assets/index-OLDq7r8s9t0.js'),
      '/assets/index-NEWa1b2c3d4.js': '',
      '/assets/index-OLDq7r8s9t0.js': '',
    });
    await loadWorker(c).dispatch('activate');
    const urls = [...(await (await c.api.open('mm-shell-v1')).keys())].map((r) => r.url.slice(ORIGIN.length)).sort();
    expect(urls).toEqual(['/', '/assets/index-NEWa1b2c3d4.js']);
  });
});
