// Browser test of the model picker on the shipped models: the page loads its default by itself (E2E_GENERATOR,
// e2e/e2e_generator.ts: the shipped default, or a smaller shipped generator when the default is bigger); the same
// prompt and seed give one image with it and another with UViT S picked in the Models select (downloaded then,
// verified, cached); each run renders every step. Each generator's recommended sampling settings (index.json
// `sampling`) fill the steps and guidance fields when it is picked, until the person sets them.
import { expect, test } from '@playwright/test';
import { GENERATION_SETTINGS } from '../src/model/settings';
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

test("the steps and guidance fields start at the picked generator's recommendation until the person sets them", async ({
  page,
  context,
}) => {
  const recommended = { steps: 5, guidance: 2.5 }; // the default's, in a served index.json; OTHER names none
  await serveE2EGenerator(context, (index) => ({
    ...index,
    models: index.models.map((m) =>
      m.id === E2E_GENERATOR ? { ...m, sampling: recommended } : { ...m, sampling: undefined },
    ),
  }));
  await page.goto('/');
  await waitLoaded(page);
  await expect(page.getByTestId('steps')).toHaveValue(String(recommended.steps));
  await expect(page.getByTestId('guidance')).toHaveValue(String(recommended.guidance));

  await page.getByTestId('model-picker').selectOption(OTHER);
  await expect(page.locator(`[data-testid="cached-model"][data-model="${OTHER}"]`)).toBeVisible({ timeout: 180_000 });
  await waitLoaded(page);
  await expect(page.getByTestId('model-picker')).toHaveValue(OTHER);
  await expect(page.getByTestId('steps')).toHaveValue(String(GENERATION_SETTINGS.steps.default));
  await expect(page.getByTestId('guidance')).toHaveValue(String(GENERATION_SETTINGS.guidance.default));

  await setNumber(page, 'guidance', 7);
  await page.getByTestId('model-picker').selectOption(E2E_GENERATOR);
  await waitLoaded(page);
  await expect(page.getByTestId('model-picker')).toHaveValue(E2E_GENERATOR);
  await expect(page.getByTestId('guidance')).toHaveValue('7');
  await expect(page.getByTestId('steps')).toHaveValue(String(GENERATION_SETTINGS.steps.default));
});
