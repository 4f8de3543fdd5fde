// Browser tests of the app shell: the worker acquires a WebGPU device (SwiftShader here) and the page shows
// it; without navigator.gpu the page says how to get WebGPU (and nothing is downloaded).
import { expect, test } from '@playwright/test';

test('shows the GPU adapter the worker acquired and the model panel', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'M-Mamba' })).toBeVisible();

  const adapter = page.getByTestId('adapter-name');
  await expect(adapter).toBeVisible({ timeout: 60_000 });
  const name = (await adapter.textContent())?.trim() ?? '';
  expect(name.length).toBeGreaterThan(0);
  expect(name).not.toBe('unknown adapter');
  // On CI machines the only adapter is SwiftShader; a real GPU shows its own name.
  if (process.env.EXPECT_SWIFTSHADER !== '0') expect(name.toLowerCase()).toContain('swiftshader');

  // A software adapter (SwiftShader) is "ready" but said to be slow.
  await expect(page.getByTestId('status')).toHaveText(
    process.env.EXPECT_SWIFTSHADER !== '0' ? 'Software GPU: slow' : /GPU ready|Software GPU: slow/,
  );
  // The limits table (folded away by default; the adapter's name opens it) lists what the engine raised, e.g. the
  // storage binding size.
  await adapter.click();
  await expect(page.getByRole('table', { name: 'device limits' })).toContainText('max storage buffer binding size');

  await expect(page.getByTestId('model-panel')).toBeVisible();
  await expect(page.getByTestId('storage-estimate')).toBeVisible();
  await expect(page.getByTestId('webgpu-missing')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('explains how to get WebGPU when navigator.gpu is missing', async ({ page }) => {
  await page.addInitScript(() => {
    // Runs before any page script: make this page look like a browser without WebGPU.
    delete (Navigator.prototype as unknown as { gpu?: unknown }).gpu;
    delete (navigator as unknown as { gpu?: unknown }).gpu;
  });
  const shards: string[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('.safetensors')) shards.push(r.url());
  });
  await page.goto('/');

  const missing = page.getByTestId('webgpu-missing');
  await expect(missing).toBeVisible();
  await expect(missing).toContainText('WebGPU is missing');
  await expect(missing).toContainText('chrome://flags/#enable-unsafe-webgpu');
  await expect(page.getByTestId('status')).toHaveText(/No WebGPU/);
  await expect(page.getByTestId('prompt')).toBeDisabled();
  await expect(page.getByTestId('generate')).toBeDisabled();
  await expect(page.getByTestId('adapter-name')).toHaveCount(0);
  expect(shards).toEqual([]);
});
