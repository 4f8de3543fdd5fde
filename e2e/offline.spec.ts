// Browser test of offline use: after one online visit (the model downloads into IndexedDB, the service worker
// public/sw.js takes control and seeds its cache with the app shell, the engine worker's modules and
// models/index.json), a reload with the network off still loads the page, the engine worker and the model
// (from IndexedDB, with no shard request), and the page shows its "offline" note; back online, a reload
// under the service worker still makes no shard request.
// Runs against the dev server of playwright.config.ts, or a build: `vite build && vite preview --port P`,
// then E2E_PORT=P (the config reuses a server already on that port). No generation here (SwiftShader is slow).
import { expect, test, type Page } from '@playwright/test';

const LOAD_TIMEOUT = 60_000;

async function waitLoaded(page: Page): Promise<void> {
  const generate = page.getByTestId('generate');
  const error = page.getByTestId('load-error');
  await expect(async () => {
    const failed = await error.isVisible().catch(() => false);
    if (failed) throw new Error(`model load failed: ${(await error.textContent()) ?? ''}`);
    expect(await generate.isEnabled().catch(() => false)).toBe(true);
  }).toPass({ timeout: LOAD_TIMEOUT });
}

test('after one online visit the page reloads offline and loads the model from IndexedDB', async ({
  page,
  context,
}) => {
  test.setTimeout(150_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Every shard request from the page, its workers and the service worker (context-wide).
  const shards: string[] = [];
  context.on('request', (r) => {
    if (new URL(r.url()).pathname.endsWith('.safetensors')) shards.push(r.url());
  });

  // First visit, online: the model downloads and the service worker takes control and seeds its cache.
  await page.goto('/');
  await waitLoaded(page);
  expect(shards.length).toBeGreaterThan(0);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 30_000 });
  await expect(page.locator('html')).toHaveAttribute('data-offline-ready', 'true', { timeout: 30_000 });
  await expect(page.getByTestId('offline-note')).toHaveCount(0);
  const cached = await page.evaluate(async () => {
    const names = await caches.keys();
    const urls: string[] = [];
    for (const n of names) for (const r of await (await caches.open(n)).keys()) urls.push(new URL(r.url).pathname);
    return { names, urls };
  });
  expect(cached.names.filter((n) => n.startsWith('mm-shell-'))).toHaveLength(1);
  expect(cached.urls).toContain('/models/index.json');
  expect(cached.urls.some((u) => u.endsWith('.safetensors'))).toBe(false);
  // The engine worker's module: /src/worker/worker.ts?worker_file… (dev server) or /assets/worker-<hash>.js (build).
  expect(cached.urls.some((u) => /\/worker(?:\.ts|-[\w-]+\.js)$/.test(u))).toBe(true);
  console.log(`service worker cache: ${cached.urls.length} entries`);

  // Offline reload: the shell and the worker come from the service worker's cache, the model from IndexedDB.
  shards.length = 0;
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'M-Mamba' })).toBeVisible();
  await expect(page.getByTestId('offline-note')).toBeVisible();
  await expect(page.getByTestId('offline-note')).toContainText(/offline — running from the cache/i);
  await waitLoaded(page);
  await expect(page.getByTestId('cached-model')).toHaveCount(2);
  expect(shards).toEqual([]);
  expect(await page.evaluate(() => navigator.onLine)).toBe(false);

  // Back online: the note goes away, and a reload under the service worker still requests no shard.
  await context.setOffline(false);
  await expect(page.getByTestId('offline-note')).toHaveCount(0);
  await page.reload();
  await waitLoaded(page);
  await expect(page.getByTestId('offline-note')).toHaveCount(0);
  expect(shards).toEqual([]);
  expect(errors).toEqual([]);
});
