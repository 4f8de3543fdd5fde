// Browser test of the model picker on the shipped models: the page loads the default, M-Mamba v2 (lite block, tokenizer
// v2), by itself; the same prompt and seed give one image with it and another with UViT S picked in the Models select
// (downloaded then, verified, cached); each run renders every step.
import { expect, test } from '@playwright/test';
import { generate, setNumber, STEPS, waitLoaded } from './app_helpers';

test.setTimeout(1_500_000);

test('picking UViT S generates with it: same prompt and seed, a different image than M-Mamba v2', async ({ page }) => {
  await page.goto('/');
  await waitLoaded(page);
  await expect(page.getByTestId('model-picker')).toHaveValue('mmamba-v2');
  await setNumber(page, 'seed', 7);
  const mamba = await generate(page, 'a red heart');
  expect(mamba.frames).toBe(STEPS);
  expect(mamba.std).toBeGreaterThan(2);

  await page.getByTestId('model-picker').selectOption('uvit-s');
  await expect(page.locator('[data-testid="cached-model"][data-model="uvit-s"]')).toBeVisible({ timeout: 180_000 });
  await waitLoaded(page);
  await expect(page.getByTestId('model-picker')).toHaveValue('uvit-s');
  await setNumber(page, 'seed', 7);
  const uvit = await generate(page, 'a red heart');
  expect(uvit.frames).toBe(STEPS);
  expect(uvit.std).toBeGreaterThan(2);
  expect(uvit.hash).not.toBe(mamba.hash);
});
