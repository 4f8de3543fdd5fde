// Shared by the app's browser tests: waiting for the model, setting the sampler inputs, running one generation
// and summarising the canvas. Generations use few steps on SwiftShader (E2E_STEPS, default 2) and guidance 1
// (E2E_GUIDANCE: g = 1 skips the unconditional pass).
import { expect, type Page } from '@playwright/test';

export const STEPS = Number(process.env.E2E_STEPS ?? 2);
export const GUIDANCE = Number(process.env.E2E_GUIDANCE ?? 1);
export const LOAD_TIMEOUT = 120_000;
/** One generation of a few steps on SwiftShader. */
export const GEN_TIMEOUT = 600_000;

/** Records every shard request (.safetensors under /models/), from the page and its worker. */
export function watchShards(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith('/models/') && path.endsWith('.safetensors')) seen.push(path);
  });
  return seen;
}

/** Waits until the default model is loaded (Generate enabled); fails with the page's message if loading failed. */
export async function waitLoaded(page: Page): Promise<void> {
  const generate = page.getByTestId('generate');
  const error = page.getByTestId('load-error');
  await expect(generate.or(error).first()).toBeVisible({ timeout: LOAD_TIMEOUT });
  await expect(async () => {
    const enabled = await generate.isEnabled().catch(() => false);
    const failed = await error.isVisible().catch(() => false);
    expect(enabled || failed).toBe(true);
  }).toPass({ timeout: LOAD_TIMEOUT });
  if (await error.isVisible()) throw new Error(`model load failed: ${(await error.textContent()) ?? ''}`);
}

export async function setNumber(page: Page, id: string, value: number): Promise<void> {
  const input = page.getByTestId(id);
  await input.fill(String(value));
  await input.dispatchEvent('change');
}
export const setSteps = (page: Page, steps: number) => setNumber(page, 'steps', steps);

/** Types a prompt, presses Enter, waits for the run to finish; returns the canvas pixels' summary. */
export async function generate(
  page: Page,
  prompt: string,
  steps = STEPS,
): Promise<{ frames: number; mean: number; std: number; hash: string; ms: number }> {
  await setSteps(page, steps);
  await setNumber(page, 'guidance', GUIDANCE);
  const box = page.getByTestId('prompt');
  await box.fill(prompt);
  const runs = Number((await page.locator('mm-app').getAttribute('data-runs')) ?? 0);
  const t0 = Date.now();
  await box.press('Enter');
  await expect(page.locator('mm-app')).toHaveAttribute('data-runs', String(runs + 1), { timeout: GEN_TIMEOUT });
  await expect(page.getByTestId('generate')).toBeVisible();
  const ms = Date.now() - t0;
  await expect(page.getByTestId('gen-error')).toHaveCount(0);
  const frames = await page.getByTestId('filmstrip-frame').count();
  return { frames, ms, ...(await canvasStats(page)) };
}

export async function canvasStats(page: Page): Promise<{ mean: number; std: number; hash: string }> {
  return page.getByTestId('canvas').evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    let sq = 0;
    let h = 2166136261;
    for (let i = 0; i < d.length; i++) {
      if (i % 4 === 3) continue;
      sum += d[i]!;
      sq += d[i]! * d[i]!;
      h = Math.imul(h ^ d[i]!, 16777619);
    }
    const n = (d.length / 4) * 3;
    const mean = sum / n;
    return { mean, std: Math.sqrt(Math.max(0, sq / n - mean * mean)), hash: (h >>> 0).toString(16) };
  });
}
