// Browser tests of hostile inputs and failures (docs/reliability.md), on the TINY model set (e2e/tiny_models.ts) so
// that each takes seconds on SwiftShader: the security headers and CSP (and no CSP violation while the app loads and
// generates), repository files not served; an IndexedDB database re-created without its object store is repaired;
// a PNG named x.html gets an image/png thumbnail and a 10000×10000 PNG is refused from its header; Cancel says
// "Cancelling…" at once; the engine worker dying mid-generation (or hanging: the heartbeat) is reported, restarted,
// and the app works again.
import { expect, test, type Page } from '@playwright/test';
import { setNumber, waitLoaded } from './app_helpers';
import { chunk, muteHotReload, png, serveTinyModels } from './tiny_models';

const LOAD_TIMEOUT = 60_000;

test.use({ serviceWorkers: 'block' });

/** Starts a long generation and resolves once its first step is on screen (the run is still going). */
async function startLongRun(page: Page): Promise<void> {
  await setNumber(page, 'steps', 64);
  await setNumber(page, 'guidance', 1);
  await page.getByTestId('prompt').fill('a zorblat');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('filmstrip-frame').first()).toBeVisible({ timeout: LOAD_TIMEOUT });
}

test('security headers and CSP; no violation while loading and generating; repository files are not served', async ({
  page,
  context,
  request,
}) => {
  const res = await request.get('/');
  const csp = res.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(res.headers()['x-content-type-options']).toBe('nosniff');
  expect(await res.text()).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src &#39;self&#39;/);
  for (const path of ['/package.json', '/training/requirements.txt', '/tests/gpu.ts', '/.git/HEAD', '/vite.config.ts'])
    expect((await request.get(path)).status(), path).toBe(404);
  expect((await request.get(`/@fs/${process.cwd().replace(/^\//, '')}/package.json`)).status()).toBe(403);

  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`),
    ),
  );
  await serveTinyModels(context);
  await muteHotReload(context);
  await page.goto('/');
  await waitLoaded(page);
  await setNumber(page, 'steps', 2);
  await setNumber(page, 'guidance', 1);
  await page.getByTestId('generate').click();
  await expect(page.locator('mm-app')).toHaveAttribute('data-runs', '1', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('gen-error')).toHaveCount(0);
  expect(violations).toEqual([]);
});

test('an IndexedDB database re-created without its object store is repaired: the model loads, is cached, reloads with no download', async ({
  page,
  context,
}) => {
  const seen = await serveTinyModels(context);
  await muteHotReload(context);
  await page.goto('/sw.js'); // any page of this origin that does not start the app
  await page.evaluate(async () => {
    await new Promise((r) => {
      const d = indexedDB.deleteDatabase('keyval-store');
      d.onsuccess = d.onerror = d.onblocked = r;
    });
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.open('keyval-store', 1); // created with no object store at all
      req.onsuccess = () => (req.result.close(), resolve());
      req.onerror = () => reject(req.error);
    });
  });
  await page.goto('/');
  await waitLoaded(page);
  const stores = await page.evaluate(
    () =>
      new Promise<string[]>((resolve) => {
        const req = indexedDB.open('keyval-store');
        req.onsuccess = () => (resolve([...req.result.objectStoreNames]), req.result.close());
      }),
  );
  expect(stores).toEqual(['keyval']);
  const shardsBefore = seen.filter((p) => p.endsWith('.safetensors')).length;
  expect(shardsBefore).toBeGreaterThan(0);
  await page.reload();
  await waitLoaded(page);
  expect(seen.filter((p) => p.endsWith('.safetensors')).length).toBe(shardsBefore); // read back from IndexedDB
});

test('uploads: a PNG named x.html gets an image/png thumbnail; a 10000×10000 PNG is refused from its header, undecoded', async ({
  page,
  context,
}) => {
  await serveTinyModels(context);
  await muteHotReload(context);
  await page.goto('/');
  await waitLoaded(page);
  const picture = png(32, (x, y) => [x * 8, y * 8, 128]);
  const html = Buffer.concat([
    picture,
    Buffer.from('<html><body><script>document.title = String(indexedDB)</script></body></html>'),
  ]);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(10000, 0);
  ihdr.writeUInt32BE(10000, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const huge = Buffer.concat([
    picture.subarray(0, 8),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.alloc(97 * 1024)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  await page.getByTestId('ft-file-input').setInputFiles([
    { name: 'x.html', mimeType: 'text/html', buffer: html },
    { name: 'huge.png', mimeType: 'image/png', buffer: huge },
  ]);
  await expect(page.getByTestId('ft-rejected').filter({ hasText: 'huge.png' })).toContainText(
    '10000×10000 pixels (100 MP); the limit is 40 MP',
  );
  await expect(page.getByTestId('ft-item')).toHaveCount(1);
  const src = await page.getByTestId('ft-item').locator('img').getAttribute('src');
  expect(src).toMatch(/^blob:/);
  // Opened in a new tab (the attack): an image document, never an HTML page whose script runs in this origin.
  const tab = await context.newPage();
  await tab.goto(src!);
  expect(await tab.evaluate(() => document.contentType)).toBe('image/png');
  expect(await tab.title()).not.toContain('IDBFactory');
});

test('Cancel says "Cancelling…" at once, before the worker answers', async ({ page, context }) => {
  await serveTinyModels(context);
  await muteHotReload(context);
  await page.goto('/');
  await waitLoaded(page);
  await startLongRun(page);
  // Click Cancel and read the caption after the page's own update, in one task: the worker's answer (a message
  // event, a later task) cannot have arrived yet.
  const caption = await page.evaluate(async () => {
    const app = document.querySelector('mm-app') as unknown as HTMLElement & {
      updateComplete: Promise<unknown>;
      caption: string;
    };
    const prompt = app.shadowRoot!.querySelector('mm-prompt-panel')!;
    (prompt.shadowRoot!.querySelector('[data-testid="cancel"]') as HTMLButtonElement).click();
    await app.updateComplete;
    return app.caption;
  });
  expect(caption).toBe('Cancelling…');
  await expect(page.getByTestId('image-caption')).toContainText(/Cancelled after \d+ step/, { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('generate')).toBeEnabled();
});

test('the engine worker dying mid-generation is reported, restarted with the same model, and the app generates again', async ({
  page,
  context,
}) => {
  const seen = await serveTinyModels(context);
  await muteHotReload(context);
  await page.goto('/');
  await waitLoaded(page);
  await startLongRun(page);
  const worker = page.workers().find((w) => /worker/.test(w.url()));
  expect(worker).toBeTruthy();
  const shardsBefore = seen.filter((p) => p.endsWith('.safetensors')).length;
  void worker!.evaluate(() => setTimeout(() => self.close(), 0)).catch(() => undefined);
  await expect(page.getByTestId('gen-error')).toContainText(
    'The engine stopped unexpectedly (the worker was terminated)',
    { timeout: 20_000 },
  );
  await expect(page.getByTestId('engine-note')).toContainText('The engine stopped unexpectedly');
  expect(await page.getByTestId('filmstrip-frame').count()).toBeGreaterThan(0); // the steps shown are kept
  await waitLoaded(page);
  await expect(page.getByTestId('status')).toHaveText(/GPU ready|Software GPU: slow/);
  await expect(page.getByTestId('engine-note')).toContainText('It was restarted');
  expect(seen.filter((p) => p.endsWith('.safetensors')).length).toBe(shardsBefore); // reloaded from IndexedDB
  await setNumber(page, 'steps', 2);
  const runs = Number((await page.locator('mm-app').getAttribute('data-runs')) ?? 0);
  await page.getByTestId('generate').click();
  await expect(page.locator('mm-app')).toHaveAttribute('data-runs', String(runs + 1), { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('gen-error')).toHaveCount(0);
});

test('an engine worker that stops answering (a stuck event loop) is found by the heartbeat, terminated and restarted', async ({
  page,
  context,
}) => {
  await serveTinyModels(context);
  await muteHotReload(context);
  await page.goto('/?engine-heartbeat-timeout=3000');
  await waitLoaded(page);
  await startLongRun(page);
  const worker = page.workers().find((w) => /worker/.test(w.url()));
  // Blocks the worker's event loop for good (it holds its alive-lock: only the heartbeat can tell).
  void worker!
    .evaluate(() =>
      setTimeout(() => {
        for (;;) {
          /* stuck */
        }
      }, 0),
    )
    .catch(() => undefined);
  await expect(page.getByTestId('gen-error')).toContainText('The engine stopped unexpectedly (no answer for 3 s)', {
    timeout: 30_000,
  });
  await waitLoaded(page);
  await expect(page.getByTestId('engine-note')).toContainText('It was restarted');
});
