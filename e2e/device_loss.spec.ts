// Browser test of GPU device-loss recovery: the engine worker's dev-only hook (__mmLoseDevice, src/worker/worker.ts)
// destroys its GPUDevice; the next generation re-acquires a device, rebuilds the model from the weights kept in
// memory (no shard request), renders every step, and the caption says the GPU had been lost. Runs on E2E_GENERATOR
// (e2e/e2e_generator.ts: the shipped default, or a smaller shipped generator when the default is bigger).
import { expect, test } from '@playwright/test';
import { generate, waitLoaded, watchShards } from './app_helpers';
import { E2E_GENERATOR, serveE2EGenerator } from './e2e_generator';

test.setTimeout(900_000);

test('after a device loss the next generation re-acquires the GPU, works, and says so', async ({ page, context }) => {
  await serveE2EGenerator(context);
  await page.goto('/');
  await waitLoaded(page);
  await expect(page.getByTestId('model-picker')).toHaveValue(E2E_GENERATOR);
  const worker = page.workers().find((w) => /worker/.test(w.url()));
  expect(
    worker,
    `engine worker among ${page
      .workers()
      .map((w) => w.url())
      .join(', ')}`,
  ).toBeTruthy();
  const shards = watchShards(page);
  await worker!.evaluate(() => (self as unknown as { __mmLoseDevice: () => void }).__mmLoseDevice());
  const r = await generate(page, 'a blue star', 1);
  expect(r.frames).toBe(1);
  expect(r.std).toBeGreaterThan(2);
  await expect(page.getByTestId('image-caption')).toContainText('The GPU had been lost and was re-acquired.');
  expect(shards).toEqual([]);
});
