// Browser tests of the prompt's edge cases and of cancel, on the TINY model set (e2e/tiny_models.ts) so each takes
// seconds on SwiftShader: the behaviour under test is the page's (the cut, the hints, the captions, the state after a
// cancel), not the shipped model's pictures.
import { expect, test } from '@playwright/test';
import { GEN_TIMEOUT, generate, setNumber, setSteps, waitLoaded } from './app_helpers';
import { muteHotReload, serveTinyModels } from './tiny_models';

test.use({ serviceWorkers: 'block' });

test.beforeEach(async ({ page, context }) => {
  await serveTinyModels(context);
  await muteHotReload(context);
  await page.goto('/');
  await waitLoaded(page);
});

test('cancel mid-run stops it; the app then generates from an empty prompt', async ({ page }) => {
  await setSteps(page, 64);
  await setNumber(page, 'guidance', 1);
  await page.getByTestId('prompt').fill('a yellow sun');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('filmstrip-frame').first()).toBeVisible({ timeout: GEN_TIMEOUT });
  await page.getByTestId('cancel').click();
  await expect(page.getByTestId('image-caption')).toContainText('Cancelled', { timeout: GEN_TIMEOUT });
  expect(await page.getByTestId('filmstrip-frame').count()).toBeLessThan(64);
  await expect(page.getByTestId('gen-error')).toHaveCount(0);
  await expect(page.getByTestId('generate')).toBeEnabled();

  await page.getByTestId('prompt').fill('');
  await expect(page.getByTestId('prompt-hint')).toContainText('unconditional');
  const empty = await generate(page, '', 1);
  expect(empty.frames).toBe(1);
  expect(empty.std).toBeGreaterThan(2);
  await expect(page.getByTestId('image-caption')).toContainText('Unconditional');
});

test('very long and emoji-only prompts are handled', async ({ page }) => {
  const long = 'a very long prompt about a red heart '.repeat(20);
  await page.getByTestId('prompt').fill(long);
  await expect(page.getByTestId('prompt-hint')).toContainText('only the first 200');
  expect((await generate(page, long, 1)).frames).toBe(1);
  await expect(page.getByTestId('image-caption')).toContainText('Prompt cut');

  await page.getByTestId('prompt').fill('🐶🌈✨');
  await expect(page.getByTestId('prompt-hint')).toContainText('No words');
  const emoji = await generate(page, '🐶🌈✨', 1);
  expect(emoji.frames).toBe(1);
  expect(emoji.std).toBeGreaterThan(2);
});
