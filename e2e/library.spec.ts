// The library as another web developer gets it: builds src/index.ts with vite.lib.config.ts into dist-lib/ (a few
// seconds), then opens the example page (examples/library/), which imports only dist-lib/mmamba-web.js and runs the
// engine in its own worker. On the tiny models (e2e/tiny_models.ts): it loads the default generator, generates with
// per-step images, and a cancel through an AbortSignal rejects with the library's GenerationCancelledError (the
// class rebuilt on the page side). No request touches the sources (/src/).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { muteHotReload, serveTinyModels } from './tiny_models';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TIMEOUT = 60_000;
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' };

test.use({ serviceWorkers: 'block' });

test.beforeAll(() => {
  execFileSync('npx', ['vite', 'build', '--config', 'vite.lib.config.ts', '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
});

test('the example page runs on the built library: load, generate step by step, cancel by AbortSignal', async ({
  page,
  context,
}) => {
  await serveTinyModels(context);
  await muteHotReload(context);
  // The example and the built library, straight from disk on the app's origin (a secure context, as WebGPU needs).
  await context.route(/\/(examples\/library|dist-lib)\/[^?]*/, async (route) => {
    const path = decodeURIComponent(new URL(route.request().url()).pathname).replace(/^\//, '');
    const file = join(ROOT, path);
    if (path.includes('..') || !existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({
      status: 200,
      contentType: TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream',
      body: readFileSync(file),
    });
  });
  const sources: string[] = [];
  context.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/src/')) sources.push(r.url());
  });

  await page.goto('/examples/library/index.html?models=/models/');
  await expect(page.getByTestId('status')).toHaveText('Ready: mmamba-e2e', { timeout: TIMEOUT });

  await page.getByTestId('steps').fill('4');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('status')).toHaveText('Done: 4 steps, 32×32', { timeout: TIMEOUT });
  const std = await page.getByTestId('canvas').evaluate((c: HTMLCanvasElement) => {
    const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < px.length; i += 4) {
      sum += px[i]!;
      sq += px[i]! * px[i]!;
    }
    const n = px.length / 4;
    return Math.sqrt(sq / n - (sum / n) ** 2);
  });
  expect(std, 'the generated image is not flat').toBeGreaterThan(2);

  await page.getByTestId('steps').fill('64');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('canvas')).toHaveAttribute('data-steps', /\d+/, { timeout: TIMEOUT });
  await page.getByTestId('cancel').click();
  await expect(page.getByTestId('status')).toHaveText(/^Cancelled after \d+ steps \(GenerationCancelledError\)$/, {
    timeout: TIMEOUT,
  });
  const done = Number(/after (\d+) steps/.exec((await page.getByTestId('status').textContent())!)![1]);
  expect(done).toBeLessThan(64);
  expect(sources, 'the example must not load the sources').toEqual([]);
});
