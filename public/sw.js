// Service worker: keeps the app shell available offline after the first visit.
//
// What it caches (one Cache Storage cache, `mm-shell-<VERSION>`): same-origin GET responses that are 200, not redirected, and not weight shards. It caches them as
// they pass through (runtime caching) and, because the first visit's page and engine worker were loaded before
// this worker controlled them, it also "seeds" the cache when a page asks (message `mm-seed`): it fetches the
// listed URLs and follows what they reference (HTML script/link tags, JS `import`/`from`/`import()` specifiers,
// `new URL("…", import.meta.url)`, so the engine worker's module is found in both the Vite dev server, where it
// is `/src/worker/worker.ts?worker_file&type=module`, and a build, where it is `/assets/worker-<hash>.js`) and
// `models/index.json` → each `models/<id>/manifest.json`.
//
// Strategies: hashed build assets (`/assets/<name>-<hash>.<ext>`) are cache-first (their URL changes with
// their content); everything else is network-first (HTML, `models/index.json`, manifests, dev-server modules),
// so updates are seen whenever the network answers, and the cache answers when it does not.
//
// Pruning: hashed assets of older builds are dropped, never the ones a cached page still uses. "Used" = reachable
// from a cached HTML page through script/link tags and JS imports (the references the seeding follows), looked up
// in the cache only. On activate, the entries of older `mm-shell-*` caches move into the current one (so the app
// stays usable offline across a service-worker update), the older caches are deleted, and unreachable hashed
// assets are pruned; the same pruning runs whenever a fresh copy of a page (a navigation) is stored, since a new
// build changes the page but not this file.
//
// Pages are cached by path (the query string dropped): `/?anything` shares the entry of `/`, so arbitrary query
// strings neither grow the cache nor keep an older build's page, and its assets, alive; entries an older worker
// stored under a query string are dropped on activate.
//
// Never cached: `*.safetensors` (the weight store keeps verified shards in IndexedDB; storing ~18 MB twice
// would waste quota, and passing them through untouched keeps "no weight requests after a reload" a property of
// the store alone), non-GET requests, other origins.
//
// When the network fails and the cache answers (or nothing does), every window client gets a message
// `{ type: 'mm-network-failed', url }`, which the page turns into its "offline" note.
/* eslint-env serviceworker */
'use strict';

const VERSION = 'v1';
const PREFIX = 'mm-shell-';
const CACHE = `${PREFIX}${VERSION}`;
/** Most URLs one seeding pass follows (a dev server's module graph is a few hundred files at most). */
const SEED_LIMIT = 1500;

const isShard = (url) => url.pathname.endsWith('.safetensors');
const isHashedAsset = (url) => /\/assets\/[^/]+-[A-Za-z0-9_-]{8,}\.(?:js|mjs|css|wasm|png|svg|woff2?)$/.test(url.pathname);
/** Requests this worker handles: same-origin GETs that are not weight shards. */
function handles(request) {
  if (request.method !== 'GET') return false;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return false;
  if (isShard(url)) return false;
  if (request.headers.has('range')) return false;
  return true;
}

function cacheable(response) {
  return response && response.ok && response.status === 200 && response.type === 'basic' && !response.redirected;
}

const isHtml = (response) => (response.headers.get('content-type') ?? '').includes('text/html');

/** The key a response is cached under: a page (HTML) by its path alone, so `/?junk=1`, `/?junk=2`, … share one
 *  entry that each fresh copy replaces (a query string never pins an old build's page and, through it, its assets);
 *  everything else by its full URL. */
function cacheKey(url, response) {
  const u = new URL(url);
  u.hash = '';
  if (response && isHtml(response)) u.search = '';
  return u.href;
}

self.addEventListener('install', () => {
  // Nothing to precache here (the page seeds what it loaded); take over without waiting for old tabs to close.
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      const older = (await caches.keys()).filter((n) => n.startsWith(PREFIX) && n !== CACHE);
      for (const name of older) {
        const old = await caches.open(name);
        for (const request of await old.keys()) {
          if (await cache.match(request, { ignoreVary: true })) continue; // the current cache's copy wins
          const response = await old.match(request, { ignoreVary: true });
          if (response) await cache.put(request, response).catch(() => undefined);
        }
        await caches.delete(name);
      }
      // Pages cached under a query string by an older worker: the path's own entry (or the next visit) replaces them.
      for (const request of await cache.keys()) {
        if (!new URL(request.url).search) continue;
        const res = await cache.match(request, { ignoreVary: true });
        if (res && isHtml(res)) await cache.delete(request);
      }
      await pruneStaleAssets(cache);
      await self.clients.claim();
    })(),
  );
});

/** Hashed build assets in `cache` that no cached HTML page reaches: leftovers of older builds. */
async function staleAssets(cache) {
  const requests = await cache.keys();
  if (!requests.some((r) => isHashedAsset(new URL(r.url)))) return []; // dev server: nothing hashed, skip the walk
  const cached = new Set(requests.map((r) => r.url));
  const reachable = new Set();
  const queue = [];
  for (const r of requests) {
    const res = await cache.match(r, { ignoreVary: true });
    if (res && (res.headers.get('content-type') ?? '').includes('text/html')) queue.push({ href: r.url, res });
  }
  while (queue.length) {
    const { href, res } = queue.pop();
    const type = res.headers.get('content-type') ?? '';
    for (const ref of references(new URL(href), type, await res.text())) {
      if (reachable.has(ref) || !cached.has(ref)) continue;
      reachable.add(ref);
      const next = await cache.match(ref, { ignoreVary: true });
      if (next && /javascript|ecmascript|html/.test(next.headers.get('content-type') ?? '')) queue.push({ href: ref, res: next });
    }
  }
  return requests.filter((r) => isHashedAsset(new URL(r.url)) && !reachable.has(r.url));
}

/** Deletes the stale hashed assets of `cache`; returns how many. */
async function pruneStaleAssets(cache) {
  try {
    const stale = await staleAssets(cache);
    for (const r of stale) await cache.delete(r);
    return stale.length;
  } catch (e) {
    console.warn('[sw] pruning old assets failed', e);
    return 0;
  }
}

/** Last notice time per window client: at most one message per client every 2 s (hundreds of modules may fail). */
const lastNotice = new Map();
async function noticeNetworkFailed(url) {
  const now = Date.now();
  const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const c of wins) {
    if (now - (lastNotice.get(c.id) ?? 0) < 2000) continue;
    lastNotice.set(c.id, now);
    c.postMessage({ type: 'mm-network-failed', url });
  }
}

async function fromCache(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request.mode === 'navigate' ? cacheKey(request.url, new Response('', { headers: { 'content-type': 'text/html' } })) : request, { ignoreVary: true });
  if (hit) return hit;
  // A navigation to any page of the app falls back to the cached shell (the scope URL, i.e. index.html).
  if (request.mode === 'navigate') {
    return (await cache.match(self.registration.scope, { ignoreVary: true })) ?? (await cache.match(request, { ignoreSearch: true, ignoreVary: true }));
  }
  return undefined;
}

async function put(request, response) {
  if (!cacheable(response)) return;
  try {
    const cache = await caches.open(CACHE);
    await cache.put(cacheKey(request.url, response), response);
  } catch (e) {
    // Quota or a body already used: the response still goes to the page; it is just not kept.
    console.warn('[sw] could not cache', request.url, e);
  }
}

async function networkFirst(event) {
  const { request } = event;
  try {
    const response = await fetch(request);
    const stored = put(request, response.clone());
    // a fresh page may belong to a new build: drop the hashed assets only older pages used
    event.waitUntil(request.mode === 'navigate' ? stored.then(async () => pruneStaleAssets(await caches.open(CACHE))) : stored);
    return response;
  } catch (err) {
    event.waitUntil(noticeNetworkFailed(request.url));
    const hit = await fromCache(request);
    if (hit) return hit;
    throw err;
  }
}

async function cacheFirst(event) {
  const { request } = event;
  const hit = await fromCache(request);
  if (hit) return hit;
  try {
    const response = await fetch(request);
    event.waitUntil(put(request, response.clone()));
    return response;
  } catch (err) {
    event.waitUntil(noticeNetworkFailed(request.url));
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (!handles(request)) return; // the browser fetches it as if there were no service worker
  const url = new URL(request.url);
  event.respondWith(isHashedAsset(url) ? cacheFirst(event) : networkFirst(event));
});

// ---- seeding: cache what the first (uncontrolled) visit loaded, following references ----

const HTML_REFS = [/<script\b[^>]*?\ssrc\s*=\s*["']([^"']+)["']/gi, /<link\b[^>]*?\shref\s*=\s*["']([^"']+)["']/gi];
const JS_REFS = [
  /\bfrom\s*["']([^"'\n]+)["']/g, // import … from "x", export … from "x"
  /\bimport\s*["']([^"'\n]+)["']/g, // import "x"
  /\bimport\s*\(\s*["']([^"'\n]+)["']\s*\)/g, // import("x")
  /\bnew\s+URL\s*\(\s*(?:\/\*[^*]*\*\/\s*)?["']([^"'\n]+)["']\s*,\s*import\.meta\.url\s*\)/g, // new URL("x", import.meta.url)
];

/** Same-origin URLs referenced by a cached response's text (only relative or absolute-path specifiers). */
function references(base, contentType, text) {
  const out = [];
  const isHtml = contentType.includes('text/html');
  const isJs = /javascript|ecmascript|typescript/.test(contentType);
  const isIndex = base.pathname.endsWith('/models/index.json');
  const add = (spec) => {
    if (!/^(\/|\.\.?\/)/.test(spec) || spec.startsWith('//')) return; // bare specifiers and other origins
    try {
      const u = new URL(spec, base);
      u.hash = '';
      if (u.origin === self.location.origin && !isShard(u)) out.push(u.href);
    } catch {
      /* not a URL */
    }
  };
  if (isHtml) for (const re of HTML_REFS) for (const m of text.matchAll(re)) add(m[1]);
  if (isJs) for (const re of JS_REFS) for (const m of text.matchAll(re)) add(m[1]);
  if (isIndex) {
    try {
      const idx = JSON.parse(text);
      for (const m of idx.models ?? []) if (typeof m.id === 'string' && /^[a-z0-9][a-z0-9._-]{0,63}$/i.test(m.id)) add(`./${m.id}/manifest.json`);
    } catch {
      /* not JSON */
    }
  }
  return out;
}

async function seed(urls) {
  const cache = await caches.open(CACHE);
  const seen = new Set();
  const queue = [];
  const push = (href) => {
    if (seen.size >= SEED_LIMIT || seen.has(href)) return;
    const u = new URL(href);
    if (u.origin !== self.location.origin || isShard(u)) return;
    seen.add(href);
    queue.push(href);
  };
  urls.forEach((u) => {
    try {
      const url = new URL(u, self.location.origin);
      url.hash = '';
      push(url.href);
    } catch {
      /* ignore */
    }
  });
  let cached = 0;
  let failed = 0;
  const visit = async (href) => {
    let response = await cache.match(href, { ignoreVary: true });
    if (!response) {
      try {
        const fresh = await fetch(href, { credentials: 'same-origin' });
        if (!cacheable(fresh)) {
          failed++;
          return;
        }
        await cache.put(cacheKey(href, fresh), fresh.clone());
        response = fresh;
      } catch {
        failed++;
        return;
      }
    }
    cached++;
    const type = response.headers.get('content-type') ?? '';
    if (/html|javascript|ecmascript|typescript|json/.test(type)) {
      const text = await response.text();
      for (const ref of references(new URL(href), type, text)) push(ref);
    }
  };
  // Breadth first, a few requests at a time (the dev server may share a small machine with the browser).
  while (queue.length) {
    const wave = queue.splice(0);
    for (let i = 0; i < wave.length; i += 6) await Promise.all(wave.slice(i, i + 6).map(visit));
  }
  return { cached, failed };
}

self.addEventListener('message', (event) => {
  const data = event.data;
  if (!data || data.type !== 'mm-seed' || !Array.isArray(data.urls)) return;
  const port = event.ports && event.ports[0];
  event.waitUntil(
    seed(data.urls.filter((u) => typeof u === 'string')).then(
      (r) => port?.postMessage({ type: 'mm-seeded', ...r, cache: CACHE }),
      (e) => port?.postMessage({ type: 'mm-seeded', error: String(e), cache: CACHE }),
    ),
  );
});
