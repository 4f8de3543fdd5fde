// Browser test of what the edit panel can start from besides the last image (src/ui/app.ts, image_view.ts,
// gallery_panel.ts), on the TINY model set (e2e/fixtures/models: 4×4 tokens) so that it runs on SwiftShader:
// - "Edit this step" on an unfinished step of the filmstrip: the panel edits that step's tokens, its still-masked
//   tokens start marked, and re-generating keeps every token that step had already drawn;
// - "Edit" on an earlier gallery image: the panel gets the image's stored token grid (equal to that run's final
//   grid) and its prompt; image-to-image from it re-drawing "the least likely tokens" at strength 0.5 keeps at least
//   the other half of its tokens.
import { expect, test, type Page } from '@playwright/test';
import { generate, waitLoaded } from './app_helpers';
import { muteHotReload, serveTinyModels } from './tiny_models';

const RUN_TIMEOUT = 300_000;

test.use({ serviceWorkers: 'block' });

async function run(page: Page, start: () => Promise<void>): Promise<void> {
  const runs = Number((await page.locator('mm-app').getAttribute('data-runs')) ?? 0);
  await start();
  await expect(page.locator('mm-app')).toHaveAttribute('data-runs', String(runs + 1), { timeout: RUN_TIMEOUT });
  await expect(page.getByTestId('gen-error')).toHaveCount(0);
  await expect(page.getByTestId('edit-error')).toHaveCount(0);
}

/** The picture the edit panel holds: its tokens and still-masked flags. */
const editing = (page: Page) =>
  page.locator('mm-app').evaluate((app) => {
    const r = (app as unknown as { editResult: { tokens: Uint32Array; unknown?: Uint8Array } | null }).editResult;
    return { tokens: Array.from(r?.tokens ?? []), unknown: Array.from(r?.unknown ?? []) };
  });

test('edit from an unfinished step and from an earlier gallery image', async ({ page, context }) => {
  test.setTimeout(900_000);
  await serveTinyModels(context);
  await muteHotReload(context);
  await page.goto('/');
  await waitLoaded(page);
  await generate(page, 'a red square', 2);
  const first = (await editing(page)).tokens;
  expect(first.length).toBe(16);
  await expect(page.getByTestId('gallery-item')).toHaveCount(1);

  // ---- step 1 of 2: floor(cos(π/4)·16) = 11 tokens still masked
  await page.getByTestId('filmstrip-frame').first().click();
  await page.getByTestId('edit-this').click();
  await expect(page.getByTestId('edit-source')).toHaveText('Editing step 1 of 2.');
  const step = await editing(page);
  const known = step.unknown.map((u, p) => (u ? -1 : p)).filter((p) => p >= 0);
  console.log(`final ${first.join(',')}\nstep 1 ${step.tokens.join(',')} (unknown ${step.unknown.join('')})`);
  expect(known.length).toBe(5);
  for (const p of known) expect(step.tokens[p], `token ${p} drawn at step 1`).toBe(first[p]);
  await expect(page.getByTestId('mask-count')).toHaveText('11 of 16 tokens to re-generate');
  await run(page, () => page.getByTestId('regenerate-region').click());
  const redrawn = (await editing(page)).tokens;
  console.log(`re-generated ${redrawn.join(',')}`);
  expect(redrawn.every((t) => t < 32)).toBe(true); // no [MASK] (= 32, the tiny codebook size) left
  for (const p of known) expect(redrawn[p], `kept token ${p}`).toBe(step.tokens[p]);
  await expect(page.getByTestId('gallery-item')).toHaveCount(2);

  // ---- the earlier gallery image (the oldest, listed last): its stored grid and prompt
  await page.getByTestId('edit-prompt').fill('something else');
  await page.getByTestId('gallery-edit').last().click();
  await expect(page.getByTestId('edit-source')).toContainText('Editing the gallery image “a red square”');
  expect((await editing(page)).tokens).toEqual(first);
  await expect(page.getByTestId('edit-prompt')).toHaveValue('a red square');

  // ---- image-to-image from it, re-drawing the least likely half
  await page.getByTestId('edit-remask').selectOption('confidence');
  await page.getByTestId('edit-strength').fill('0.5');
  await run(page, () => page.getByTestId('from-picture').click());
  const img2img = (await editing(page)).tokens;
  const same = img2img.filter((t, p) => t === first[p]).length;
  console.log(`image-to-image ${img2img.join(',')}: ${same} of 16 as before`);
  expect(same).toBeGreaterThanOrEqual(8);
});
