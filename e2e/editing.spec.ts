// Browser test of editing (the "Edit and vary" panel, src/ui/edit_panel.ts) on the TINY model set (e2e/fixtures/models:
// a 32×32 VQ with 4×4 tokens and a matching tiny M-Mamba), so that it runs on SwiftShader in a few minutes.
// One page, in order: generate; paint the top-left token in the mask editor and re-generate the region: every
// kept token is unchanged (the app's finished token grid). Kept tokens' pixels are NOT compared: the VQ decoder's
// GroupNorm layers normalise over the whole image, so one new token shifts every pixel a little (a test of this
// measured differences of a few levels in the far corner). Then draw 2 variations: the grid shows two images; upload a
// PNG and re-draw it at strength 0.5: an image comes back; a non-image upload is refused with the reason.
import { expect, test, type Page } from '@playwright/test';
import { muteHotReload, png, serveTinyModels } from './tiny_models';
import { generate, waitLoaded } from './app_helpers';

const RUN_TIMEOUT = 300_000;

test.use({ serviceWorkers: 'block' });

/** Runs whatever `start` clicks and waits until that generation has finished without an error. */
async function run(page: Page, start: () => Promise<void>): Promise<void> {
  const runs = Number((await page.locator('mm-app').getAttribute('data-runs')) ?? 0);
  await start();
  await expect(page.locator('mm-app')).toHaveAttribute('data-runs', String(runs + 1), { timeout: RUN_TIMEOUT });
  await expect(page.getByTestId('gen-error')).toHaveCount(0);
  await expect(page.getByTestId('edit-error')).toHaveCount(0);
}

/** The finished image's token grid, as the app hands it to the edit panel. */
const resultTokens = (page: Page) =>
  page
    .locator('mm-app')
    .evaluate((app) =>
      Array.from((app as unknown as { editResult: { tokens: Uint32Array } | null }).editResult?.tokens ?? []),
    );

test('edit: re-generate a painted region, draw variations, image-to-image from an upload', async ({
  page,
  context,
}) => {
  test.setTimeout(900_000);
  await serveTinyModels(context);
  await muteHotReload(context);
  await page.goto('/');
  await waitLoaded(page);
  await generate(page, 'a red square');

  // ---- re-generate a region: the top-left token of the 4×4 grid
  const before = await resultTokens(page);
  expect(before.length).toBe(16);
  const stage = page.getByTestId('mask-stage');
  const box = (await stage.boundingBox())!;
  await stage.click({ position: { x: box.width / 8, y: box.height / 8 } });
  await expect(page.getByTestId('mask-count')).toHaveText('1 of 16 tokens to re-generate');
  // keyboard: invert twice leaves the mask as it was
  await stage.focus();
  await stage.press('i');
  await expect(page.getByTestId('mask-count')).toHaveText('15 of 16 tokens to re-generate');
  await stage.press('i');
  await expect(page.getByTestId('mask-count')).toHaveText('1 of 16 tokens to re-generate');
  await run(page, () => page.getByTestId('regenerate-region').click());
  const after = await resultTokens(page);
  console.log(`tokens before ${before.join(',')}\ntokens after  ${after.join(',')}`);
  expect(after.slice(1)).toEqual(before.slice(1)); // every kept token

  // ---- an empty mask is refused with the engine's message, before anything is sent
  await page.getByTestId('mask-clear').click();
  await page.getByTestId('regenerate-region').click();
  await expect(page.getByTestId('edit-error')).toContainText('The mask is empty');

  // ---- variations: 2 images in the grid, each with its filmstrip and "Vary this"
  await page.getByTestId('variations-count').fill('2');
  await page.getByTestId('variations-count').dispatchEvent('change');
  await run(page, () => page.getByTestId('draw-variations').click());
  await expect(page.getByTestId('variation')).toHaveCount(2);
  await expect(page.getByTestId('vary-this')).toHaveCount(2);
  await expect(page.getByTestId('vary-this').first()).toBeEnabled();

  // ---- image-to-image from an uploaded PNG at strength 0.5
  await page
    .getByTestId('edit-upload')
    .setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a picture at all') });
  await expect(page.getByTestId('edit-error')).toContainText('not a PNG, JPEG or WebP');
  const picture = png(128, (x, y) => (((x >> 6) + (y >> 6)) % 2 ? [220, 40, 40] : [40, 70, 220]));
  await page.getByTestId('edit-upload').setInputFiles({ name: 'checker.png', mimeType: 'image/png', buffer: picture });
  await expect(page.getByTestId('edit-source')).toHaveText('Editing the uploaded picture.', { timeout: RUN_TIMEOUT });
  await page.getByTestId('edit-strength').fill('0.5');
  await expect(page.getByTestId('edit-strength-value')).toHaveText('0.50');
  await run(page, () => page.getByTestId('from-picture').click());
  await expect(page.getByTestId('canvas')).toBeVisible();
  expect((await resultTokens(page)).length).toBe(16);
});
