// First run and everyday polish (issue 17, first part), in the page on SwiftShader:
// - installable: favicon, manifest and icons are linked, served and cached by the service worker, and no request
//   of the page, its workers or its service worker fails or answers 4xx/5xx while the app loads;
// - a software adapter shows an amber "Software GPU: slow" pill and a note in the GPU panel, whose details start
//   folded (the summary names the adapter);
// - a link's settings (`?prompt=…&seed=…&steps=…&guidance=…`) prefill the prompt panel, bad ones are ignored with a
//   quiet note; no "Empty prompt" warning before anything is typed;
// - while a generation runs the caption says the step and about how long is left; then the URL has its settings
//   and the caption reads "Done: N steps in X." ("1 step"); starting a run scrolls the image card into view on a
//   phone, and only when it is not on screen already;
//   the downloaded PNG is named after prompt, seed, steps and model and carries them in tEXt chunks (CRCs checked).
// The link/generation tests run on the TINY model set (e2e/fixtures/models) with service workers blocked.
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { expect, test, type Page } from '@playwright/test';
import { setNumber, waitLoaded } from './app_helpers';
import { muteHotReload, serveTinyModels } from './tiny_models';

const SWIFTSHADER = process.env.EXPECT_SWIFTSHADER !== '0';

test('installable: icon and manifest served and cached, no failed request, software GPU said', async ({
  page,
  context,
}) => {
  await muteHotReload(context);
  const failed: string[] = [];
  context.on('requestfailed', (r) => failed.push(`${r.url()} ${r.failure()?.errorText ?? ''}`));
  context.on('response', (r) => {
    if (r.status() >= 400) failed.push(`${r.url()} ${r.status()}`);
  });
  await page.goto('/');
  await waitLoaded(page);
  await expect(page.locator('html')).toHaveAttribute('data-offline-ready', 'true', { timeout: 60_000 });

  const files = await page.evaluate(async () => {
    const links = [
      ...document.querySelectorAll<HTMLLinkElement>(
        'link[rel="icon"], link[rel="manifest"], link[rel="apple-touch-icon"]',
      ),
    ];
    const manifestUrl = document.querySelector<HTMLLinkElement>('link[rel="manifest"]')!.href;
    const manifest = (await (await fetch(manifestUrl)).json()) as {
      display: string;
      start_url: string;
      icons: { src: string }[];
    };
    const urls = [...links.map((l) => l.href), ...manifest.icons.map((i) => new URL(i.src, manifestUrl).href)];
    const out = [];
    for (const url of [...new Set(urls)]) {
      const r = await fetch(url);
      out.push({
        url,
        status: r.status,
        type: r.headers.get('content-type') ?? '',
        cached: !!(await caches.match(url)),
      });
    }
    return { display: manifest.display, startUrl: new URL(manifest.start_url, manifestUrl).href, files: out };
  });
  console.log(JSON.stringify(files));
  expect(files.display).toBe('standalone');
  expect(files.startUrl).toBe(new URL('/', page.url()).href);
  expect(files.files.map((f) => new URL(f.url).pathname).sort()).toEqual([
    '/favicon.svg',
    '/icons/icon-192.png',
    '/icons/icon-512.png',
    '/manifest.webmanifest',
  ]);
  for (const f of files.files) {
    expect(f.status, f.url).toBe(200);
    expect(f.type, f.url).toMatch(/svg|png|manifest|json/);
    expect(f.cached, `${f.url} in the service worker's cache`).toBe(true);
  }

  if (SWIFTSHADER) {
    const pill = page.getByTestId('status');
    await expect(pill).toHaveText('Software GPU: slow');
    expect(await pill.getAttribute('title')).toMatch(/software renderer.*Try 3 steps/);
    await expect(page.getByTestId('software-gpu')).toBeVisible();
  }
  // The GPU details start folded: the summary names the adapter, the limits wait behind it.
  await expect(page.getByTestId('gpu-details')).not.toHaveAttribute('open');
  await expect(page.getByTestId('adapter-name')).toBeVisible();
  await expect(page.getByRole('table', { name: 'device limits' })).toBeHidden();
  await page.getByTestId('adapter-name').click();
  await expect(page.getByRole('table', { name: 'device limits' })).toBeVisible();
  // Nothing typed yet: no warning about the empty prompt.
  await expect(page.getByTestId('prompt-hint')).toHaveCount(0);
  expect(failed).toEqual([]);
});

test.describe('links, captions and downloads (tiny models)', () => {
  test.use({ serviceWorkers: 'block' });

  async function open(page: Page, search: string): Promise<void> {
    await muteHotReload(page.context());
    await serveTinyModels(page.context());
    await page.goto(`/${search}`);
    await waitLoaded(page);
  }

  test('a link prefills the settings; bad values are ignored quietly; the empty-prompt hint waits for typing', async ({
    page,
  }) => {
    await open(page, '?prompt=a%20red%20apple&seed=42&steps=3&guidance=2.5');
    await expect(page.getByTestId('prompt')).toHaveValue('a red apple');
    await expect(page.getByTestId('seed')).toHaveValue('42');
    await expect(page.getByTestId('steps')).toHaveValue('3');
    await expect(page.getByTestId('guidance')).toHaveValue('2.5');
    await expect(page.getByTestId('link-note')).toHaveCount(0);

    await open(page, '?seed=abc&steps=999&guidance=2');
    await expect(page.getByTestId('link-note')).toHaveText(
      'Ignored from the link: seed=abc (must be a number from 0 to 4294967295); steps=999 (must be a number from 1 to 64).',
    );
    await expect(page.getByTestId('steps')).toHaveValue('12'); // the default stays
    await expect(page.getByTestId('guidance')).toHaveValue('2');
    await expect(page.getByTestId('gen-error')).toHaveCount(0);
    await expect(page.getByTestId('load-error')).toHaveCount(0);
    await expect(page.getByTestId('prompt-hint')).toHaveCount(0);
    await page.getByTestId('prompt').fill('x');
    await page.getByTestId('prompt').fill('');
    await expect(page.getByTestId('prompt-hint')).toContainText('Empty prompt');
  });

  test('a generation writes the URL, captions once, and downloads a PNG named and tagged with its settings', async ({
    page,
  }) => {
    await open(page, '?prompt=Red%20Apple!&seed=42&steps=2&guidance=1&keep=me');
    await setNumber(page, 'seed', 7);
    // Every text the status line under the image shows during the run (each step renders on its own).
    await page.evaluate(() => {
      const view = document.querySelector('mm-app')!.shadowRoot!.querySelector('mm-image-view')!;
      const seen: string[] = [];
      (window as unknown as { captions: string[] }).captions = seen;
      new MutationObserver(() =>
        seen.push(view.shadowRoot!.querySelector('[data-testid="progress-live"]')!.textContent!.trim()),
      ).observe(view.shadowRoot!, { subtree: true, childList: true, characterData: true });
    });
    const runs = async (n: number) =>
      expect(page.locator('mm-app')).toHaveAttribute('data-runs', String(n), { timeout: 120_000 });
    await page.getByTestId('generate').click();
    await runs(1);
    const q = new URL(page.url()).searchParams;
    expect(Object.fromEntries(q)).toEqual({ prompt: 'Red Apple!', seed: '7', steps: '2', guidance: '1', keep: 'me' });
    await expect(page.getByTestId('image-caption')).toHaveText(/^Done: 2 steps in \d+(\.\d+)? (ms|s)\.$/);
    // While it ran, the line said the step and the time left, estimated from the first step's time.
    const captions = await page.evaluate(() => (window as unknown as { captions: string[] }).captions);
    console.log(JSON.stringify(captions));
    expect(
      captions.some((c) => /^Step 1 of 2… (about \d+ s|less than a second) left$/.test(c)),
      captions.join(' | '),
    ).toBe(true);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-png').click()]);
    expect(download.suggestedFilename()).toBe('red-apple_seed7_2steps_mmamba-e2e.png');
    const bytes = readFileSync(await download.path());
    const text = pngText(bytes);
    console.log(JSON.stringify(text));
    expect(text).toMatchObject({
      prompt: 'Red Apple!',
      seed: '7',
      steps: '2',
      guidance: '1',
      model: 'mmamba-e2e',
      Software: 'M-Mamba Web',
    });

    await setNumber(page, 'steps', 1);
    await page.getByTestId('generate').click();
    await runs(2);
    await expect(page.getByTestId('image-caption')).toHaveText(/^Done: 1 step in /);
    expect(new URL(page.url()).searchParams.get('steps')).toBe('1');

    // On a phone, starting a run brings the image card into view (the click is dispatched: no scrolling by the test)…
    await page.setViewportSize({ width: 390, height: 844 });
    await page.evaluate(() => window.scrollTo(0, 0));
    const card = page.getByTestId('preview'); // the image itself (the card grows below it as steps come)
    await expect(card).not.toBeInViewport({ ratio: 1 });
    await page.getByTestId('generate').dispatchEvent('click');
    await expect(card).toBeInViewport({ ratio: 1 });
    await runs(3);
    // …and leaves the page where it is when the card is already on screen.
    const scrolled = await page.evaluate(() => window.scrollY);
    await page.getByTestId('generate').dispatchEvent('click');
    await runs(4);
    expect(await page.evaluate(() => window.scrollY)).toBe(scrolled);
  });
});

/** The tEXt chunks of a PNG ({keyword: text}); every chunk's CRC is checked and the file must end with IEND. */
function pngText(b: Buffer): Record<string, string> {
  expect([...b.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const text: Record<string, string> = {};
  let at = 8;
  let last = '';
  while (at < b.length) {
    const len = b.readUInt32BE(at);
    last = b.toString('latin1', at + 4, at + 8);
    expect(b.readUInt32BE(at + 8 + len), `CRC of ${last}`).toBe(crc32(b.subarray(at + 4, at + 8 + len)));
    if (last === 'tEXt') {
      const data = b.subarray(at + 8, at + 8 + len);
      const z = data.indexOf(0);
      text[data.toString('latin1', 0, z)] = data.toString('latin1', z + 1);
    }
    at += 12 + len;
  }
  expect(last).toBe('IEND');
  return text;
}
