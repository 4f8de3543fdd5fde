// The README's screenshots of the first screen, desktop (1280×900) and phone (390×844 at 2× pixels), written to
// docs/img/first-screen-desktop.png and docs/img/first-screen-phone.png. Not a test: skipped unless SCREENSHOTS=1
// (`SCREENSHOTS=1 npx playwright test e2e/screenshots.spec.ts`). The page loads the shipped models as a first
// visit does (fresh profile); SCREENSHOTS_TINY=1 serves the e2e tiny models instead where the shipped ones are not
// at hand. The shots are taken once the model is ready, before anything is typed: what a new visitor first sees
// (on this machine's software GPU, so the status pill says "Software GPU: slow").
import { statSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { waitLoaded } from './app_helpers';
import { muteHotReload, serveTinyModels } from './tiny_models';

test.skip(!process.env.SCREENSHOTS, 'writes the README screenshots; run with SCREENSHOTS=1');
test.use({ serviceWorkers: 'block' });

/** The screenshots must stay small enough for the repository. */
const MAX_BYTES = 300 * 1024;

async function shoot(page: Page, file: string): Promise<void> {
  await muteHotReload(page.context());
  if (process.env.SCREENSHOTS_TINY) await serveTinyModels(page.context());
  await page.goto('/');
  await waitLoaded(page);
  await expect(page.getByTestId('intro')).toBeVisible();
  // No caret blinking or focus ring in the picture.
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  const bytes = statSync(file).size;
  console.log(`${file}: ${bytes} bytes`);
  expect(bytes).toBeLessThan(MAX_BYTES);
}

test.describe('README screenshots', () => {
  test.setTimeout(300_000);

  test.describe('desktop', () => {
    test.use({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    test('first screen', async ({ page }) => shoot(page, 'docs/img/first-screen-desktop.png'));
  });

  test.describe('phone', () => {
    test.use({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    test('first screen', async ({ page }) => shoot(page, 'docs/img/first-screen-phone.png'));
  });
});
