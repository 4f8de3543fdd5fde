// The README's editing screenshots (docs/img/edit-inpainting.png, edit-img2img.png, edit-variations.png), taken with
// the shipped default generator (index.json's defaultGenerator, 16×16 tokens) at few steps, so the pictures are real
// ones; on SwiftShader that takes several minutes (M-Mamba M: about 14 on 2 cores). Not part of the suite: skipped unless
//   SCREENSHOTS=1 npx playwright test e2e/edit_screenshots.spec.ts
// Each file is checked to be a PNG under 300 KB.
import { readFileSync, statSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { generate, setNumber, waitLoaded } from './app_helpers';
import { muteHotReload, png } from './tiny_models';

const RUN_TIMEOUT = 600_000;
const OUT = 'docs/img';

test.use({ serviceWorkers: 'block', viewport: { width: 1000, height: 900 } });

async function run(page: Page, start: () => Promise<void>): Promise<void> {
  const runs = Number((await page.locator('mm-app').getAttribute('data-runs')) ?? 0);
  await start();
  await expect(page.locator('mm-app')).toHaveAttribute('data-runs', String(runs + 1), { timeout: RUN_TIMEOUT });
  await expect(page.getByTestId('gen-error')).toHaveCount(0);
}

function checkPng(path: string): void {
  const b = readFileSync(path);
  expect(b.subarray(1, 4).toString('latin1'), path).toBe('PNG');
  expect(statSync(path).size, `${path} bytes`).toBeLessThan(300 * 1024);
}

test('README screenshots of editing', async ({ page, context }) => {
  test.skip(!process.env.SCREENSHOTS, 'makes the README screenshots: SCREENSHOTS=1');
  test.setTimeout(1_500_000);
  await muteHotReload(context);
  await page.goto('/');
  await waitLoaded(page);
  await generate(page, 'a red heart', 6);

  // ---- a picture to edit: an uploaded drawing (a red disc on a light ground)
  const picture = png(128, (x, y) =>
    (x - 64) ** 2 + (y - 60) ** 2 < 40 ** 2 ? [215, 45, 60] : y > 100 ? [90, 160, 90] : [235, 238, 245],
  );
  await page.getByTestId('edit-upload').setInputFiles({ name: 'disc.png', mimeType: 'image/png', buffer: picture });
  await expect(page.getByTestId('edit-source')).toHaveText('Editing the uploaded picture.', { timeout: RUN_TIMEOUT });

  // ---- inpainting: the top half painted with the rectangle tool, a new prompt
  await page.getByTestId('mask-tool-rect').click();
  const stage = page.getByTestId('mask-stage');
  const box = (await stage.boundingBox())!;
  await page.mouse.move(box.x + 4, box.y + 4);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width - 4, box.y + box.height / 2 - 4, { steps: 4 });
  await page.mouse.up();
  await expect(page.getByTestId('mask-count')).toHaveText('128 of 256 tokens to re-generate');
  await page.getByTestId('edit-prompt').fill('a blue car');
  await page.getByTestId('edit-panel').screenshot({ path: `${OUT}/edit-inpainting.png` });

  // ---- image-to-image from the upload at strength 0.5: the image card with every step
  await page.getByTestId('edit-prompt').fill('a red heart');
  await page.getByTestId('edit-strength').fill('0.5');
  await run(page, () => page.getByTestId('from-picture').click());
  await page.locator('mm-image-view').screenshot({ path: `${OUT}/edit-img2img.png` });

  // ---- 2 variations side by side, each with its filmstrip (each step is one batched forward)
  await setNumber(page, 'variations-count', 2);
  await run(page, () => page.getByTestId('draw-variations').click());
  await expect(page.getByTestId('variation')).toHaveCount(2);
  await page.getByTestId('variations').screenshot({ path: `${OUT}/edit-variations.png` });

  for (const f of ['edit-inpainting', 'edit-img2img', 'edit-variations']) checkPng(`${OUT}/${f}.png`);
});
