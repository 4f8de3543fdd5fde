// Browser test of the model picker on the shipped models: the page loads its default by itself (E2E_GENERATOR,
// e2e/e2e_generator.ts: the shipped default, or a smaller shipped generator when the default is bigger); the same
// prompt and seed give one image with it and another with UViT S picked in the Models select (downloaded then,
// verified, cached); each run renders every step.
import { expect, test } from '@playwright/test';
import { generate, setNumber, STEPS, waitLoaded } from './app_helpers';
import { E2E_GENERATOR, serveE2EGenerator } from './e2e_generator';

/** The model picked by hand: a shipped generator of another kind than the default's. */
const OTHER = 'uvit-s';

test.setTimeout(1_500_000);

test('picking UViT S generates with it: same prompt and seed, a different image than the default', async ({
  page,
  context,
}) => {
  expect(E2E_GENERATOR, 'the default must not be the model this test picks').not.toBe(OTHER);
  await serveE2EGenerator(context);
  await page.goto('/');
  await waitLoaded(page);
  await expect(page.getByTestId('model-picker')).toHaveValue(E2E_GENERATOR);
  await setNumber(page, 'seed', 7);
  const mamba = await generate(page, 'a red heart');
  expect(mamba.frames).toBe(STEPS);
  expect(mamba.std).toBeGreaterThan(2);

  await page.getByTestId('model-picker').selectOption(OTHER);
  await expect(page.locator(`[data-testid="cached-model"][data-model="${OTHER}"]`)).toBeVisible({ timeout: 180_000 });
  await waitLoaded(page);
  await expect(page.getByTestId('model-picker')).toHaveValue(OTHER);
  await setNumber(page, 'seed', 7);
  const uvit = await generate(page, 'a red heart');
  expect(uvit.frames).toBe(STEPS);
  expect(uvit.std).toBeGreaterThan(2);
  expect(uvit.hash).not.toBe(mamba.hash);
});
