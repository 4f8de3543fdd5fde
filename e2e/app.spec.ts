// Browser tests of the whole app: the page loads the default model by itself (downloading every shard on a first
// visit, from IndexedDB afterwards), a damaged cached shard is fetched again, a cached model can be deleted: these run
// on the shipped default (public/models/index.json), its shard list read from its manifest. Generation renders every
// step into the canvas and the filmstrip, with zero weight requests after a repaired shard: the "generation" describe
// runs on E2E_GENERATOR (e2e/e2e_generator.ts: the shipped default, or a smaller shipped generator when the default is
// bigger), and when that is not the shipped default, "the shipped default generates" runs one step on the real one.
// Cancel and odd prompts: e2e/prompts.spec.ts, on the tiny models. SwiftShader is slow (one step of mmamba-v2 + VQ
// decode measured 40–115 s on 2 shared cores), so generations here use few steps (E2E_STEPS, default 2) and guidance 1
// (E2E_GUIDANCE: g = 1 skips the unconditional pass), and the tests share generations: four steps in all (one more
// on the real default when E2E_GENERATOR is another).
import { expect, test, type Page } from '@playwright/test';
import { generate, STEPS, waitLoaded, watchShards } from './app_helpers';
import { E2E_GENERATOR, SHIPPED_DEFAULT, serveE2EGenerator, shardPaths } from './e2e_generator';

/** The shards of the shipped default (every one a first visit requests) and of the VQ, from their manifests. */
const DEFAULT_SHARDS = shardPaths(SHIPPED_DEFAULT);
const VQ_SHARDS = shardPaths('vq-s');

test.setTimeout(1_200_000);

/** Flips one byte of the cached shard of `modelId` in the app's IndexedDB (idb-keyval's default store). */
async function tamperShard(page: Page, modelId: string): Promise<string> {
  return page.evaluate(async (id) => {
    const manifest = (await (await fetch(`/models/${id}/manifest.json`)).json()) as { shards: { sha256: string }[] };
    const key = `weights/v1/${id}/${manifest.shards[0]!.sha256}`;
    const db = await new Promise<IDBDatabase>((ok, bad) => {
      const r = indexedDB.open('keyval-store');
      r.onsuccess = () => ok(r.result);
      r.onerror = () => bad(r.error);
    });
    const tx = (mode: IDBTransactionMode) => db.transaction('keyval', mode).objectStore('keyval');
    const value = await new Promise<ArrayBuffer>((ok, bad) => {
      const r = tx('readonly').get(key);
      r.onsuccess = () => ok(r.result as ArrayBuffer);
      r.onerror = () => bad(r.error);
    });
    if (!(value instanceof ArrayBuffer)) throw new Error(`no cached shard under ${key}`);
    const bytes = new Uint8Array(value);
    bytes[4096] ^= 0x5a;
    await new Promise<void>((ok, bad) => {
      const r = tx('readwrite').put(bytes.buffer, key);
      r.onsuccess = () => ok();
      r.onerror = () => bad(r.error);
    });
    db.close();
    return key;
  }, modelId);
}

async function cachedSha(page: Page, key: string): Promise<string> {
  return page.evaluate(async (k) => {
    const db = await new Promise<IDBDatabase>((ok, bad) => {
      const r = indexedDB.open('keyval-store');
      r.onsuccess = () => ok(r.result);
      r.onerror = () => bad(r.error);
    });
    const value = await new Promise<ArrayBuffer>((ok, bad) => {
      const r = db.transaction('keyval', 'readonly').objectStore('keyval').get(k);
      r.onsuccess = () => ok(r.result as ArrayBuffer);
      r.onerror = () => bad(r.error);
    });
    db.close();
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', value));
    return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
  }, key);
}

test('first visit downloads with a progress bar and caches; after a reload no shard is requested', async ({ page }) => {
  const shards = watchShards(page);
  await page.goto('/');
  await expect(page.getByTestId('load-progress')).toBeVisible({ timeout: 60_000 });
  await waitLoaded(page);
  // Every shard of the generator and of the VQ tokenizer, once each.
  expect([...shards].sort()).toEqual([...DEFAULT_SHARDS, ...VQ_SHARDS].sort());
  await expect(page.getByTestId('cached-model')).toHaveCount(2);
  await expect(page.getByTestId('storage-estimate')).toContainText(/uses .* of /);

  shards.length = 0;
  await page.reload();
  await waitLoaded(page);
  await expect(page.getByTestId('cached-model')).toHaveCount(2);
  expect(shards).toEqual([]);
});

test('a corrupted shard in IndexedDB is fetched again and stored repaired', async ({ page }) => {
  const shards = watchShards(page);
  await page.goto('/');
  await waitLoaded(page);
  const key = await tamperShard(page, SHIPPED_DEFAULT);
  shards.length = 0;
  await page.reload();
  await waitLoaded(page);
  expect(shards).toEqual([DEFAULT_SHARDS[0]]); // the tampered one (the first), and no other
  const manifest = await page.evaluate(
    async (id) => (await (await fetch(`/models/${id}/manifest.json`)).json()) as { shards: { sha256: string }[] },
    SHIPPED_DEFAULT,
  );
  expect(await cachedSha(page, key)).toBe(manifest.shards[0]!.sha256);
});

test('deleting a cached model removes it from the list', async ({ page }) => {
  await page.goto('/');
  await waitLoaded(page);
  await expect(page.getByTestId('cached-model')).toHaveCount(2);
  await page.locator('[data-testid="cached-model"][data-model="vq-s"]').getByTestId('delete-model').click();
  await page.locator('mm-model-panel').getByTestId('confirm-ok').click(); // deleting asks first
  await expect(page.getByTestId('cached-model')).toHaveCount(1);
  await expect(page.locator('[data-testid="cached-model"][data-model="vq-s"]')).toHaveCount(0);
});

test('the shipped default generates: picked by itself, one step renders, no weight request after loading', async ({
  page,
}) => {
  test.skip(
    E2E_GENERATOR === SHIPPED_DEFAULT,
    `the "generation" describe runs on the shipped default ${SHIPPED_DEFAULT}`,
  );
  await page.goto('/');
  await waitLoaded(page);
  await expect(page.getByTestId('model-picker')).toHaveValue(SHIPPED_DEFAULT);
  const shards = watchShards(page);
  const r = await generate(page, 'a red heart', 1);
  console.log(`${SHIPPED_DEFAULT}: generation of 1 step: ${r.ms} ms wall (SwiftShader)`);
  expect(r.frames).toBe(1);
  expect(r.std).toBeGreaterThan(2); // not one flat colour
  await expect(page.getByTestId('step-info')).toContainText('step 1/1');
  expect(shards).toEqual([]);
});

test.describe('generation', () => {
  test.beforeEach(async ({ page, context }) => {
    await serveE2EGenerator(context);
    await page.goto('/');
    await waitLoaded(page);
  });

  test('after a tampered cache and reloads: every step renders with zero weight requests, images depend on the prompt', async ({
    page,
  }) => {
    await expect(page.getByTestId('model-picker')).toHaveValue(E2E_GENERATOR);
    const shards = watchShards(page);
    await tamperShard(page, E2E_GENERATOR);
    await page.reload();
    await waitLoaded(page);
    expect(shards).toEqual([shardPaths(E2E_GENERATOR)[0]]); // the one refetch
    shards.length = 0;
    await page.reload();
    await waitLoaded(page);

    const a = await generate(page, 'a red heart');
    console.log(`${E2E_GENERATOR}: generation of ${STEPS} steps: ${a.ms} ms wall (SwiftShader)`);
    expect(a.frames).toBe(STEPS);
    expect(a.std).toBeGreaterThan(2); // not one flat colour
    await expect(page.getByTestId('step-info')).toContainText(`step ${STEPS}/${STEPS}`);
    await expect(page.getByTestId('step-info')).toContainText('/step');
    await page.getByTestId('mask-toggle').check();
    await expect(page.getByTestId('mask-overlay')).toBeVisible();
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-png').click()]);
    expect(dl.suggestedFilename()).toMatch(/\.png$/);

    const b = await generate(page, 'a green tree');
    expect(b.frames).toBe(STEPS);
    expect(b.std).toBeGreaterThan(2);
    expect(b.hash).not.toBe(a.hash);
    expect(shards).toEqual([]);
  });
});
