// Everyday use (issue 17, second part), in the page on SwiftShader with the TINY model set (service workers
// blocked, so every /models/ request reaches the route):
// - accessibility: zero axe-core violations on the first screen, while a generation runs, after it and with the
//   fine-tune panel holding uploads; a live region announces progress; Enter on Generate leaves focus on Cancel
//   and back on Generate; Escape cancels; arrow keys move through the filmstrip, whose buttons say "Step i of n";
// - the intro links the local about page (served, no violations), the example chips fill the prompt;
// - Copy link puts a link with the image's settings on the clipboard; finished images go into the gallery
//   (IndexedDB: newest first, survives a reload, each deletable) and picking one restores its settings;
// - deleting a model asks first (Escape keeps it); a deleted generator is listed as not downloaded, with its size
//   and a Download button that brings it back; that download asks for persistent storage (once).
import { readFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { setNumber, waitLoaded } from './app_helpers';
import { muteHotReload, png, serveTinyModels } from './tiny_models';
import { EXAMPLE_PROMPTS } from '../src/ui/examples';

test.use({ serviceWorkers: 'block' });
const RUN_TIMEOUT = 120_000;

async function open(page: Page, search = ''): Promise<void> {
  await muteHotReload(page.context());
  await serveTinyModels(page.context());
  await page.goto(`/${search}`);
  await waitLoaded(page);
}

/** axe-core's violations (WCAG 2.x A/AA and best practice), printed in full when any is found. */
async function violations(page: Page, label: string): Promise<string[]> {
  const r = await new AxeBuilder({ page }).analyze();
  const found = r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
  if (found.length)
    console.log(
      `axe, ${label}:\n${JSON.stringify(
        r.violations.map((v) => ({
          id: v.id,
          help: v.help,
          nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
        })),
        null,
        1,
      )}`,
    );
  return found;
}

const runs = (page: Page, n: number) =>
  expect(page.locator('mm-app')).toHaveAttribute('data-runs', String(n), { timeout: RUN_TIMEOUT });

test('accessibility: no axe violations on any state; live progress, focus, Escape and arrow keys', async ({ page }) => {
  await open(page);
  expect(await violations(page, 'first screen')).toEqual([]);
  await expect(page.getByRole('main')).toHaveCount(1);

  // Enter in the prompt starts a run; focus moves to Cancel (the control that replaced Generate); Escape cancels.
  await setNumber(page, 'steps', 40); // long enough to be running when Escape comes
  await setNumber(page, 'guidance', 1);
  await page.getByTestId('prompt').fill('a red heart');
  await page.getByTestId('generate').focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('cancel')).toBeFocused();
  const live = page.getByTestId('progress-live');
  await expect(live).toHaveAttribute('aria-live', 'polite');
  await expect(live).toHaveText(/Step \d+ of 40/, { timeout: RUN_TIMEOUT });
  expect(await violations(page, 'while generating')).toEqual([]);
  await page.keyboard.press('Escape');
  await runs(page, 1);
  await expect(live).toHaveText(/^Cancelled after \d+ steps?\.$/);
  await expect(page.getByTestId('generate')).toBeFocused();

  // A full run: the filmstrip's buttons are named "Step i of n", the canvas label carries the prompt.
  await setNumber(page, 'steps', 3);
  await page.getByTestId('generate').click();
  await runs(page, 2);
  await expect(live).toHaveText(/^Done: 3 steps in /);
  await expect(page.getByTestId('canvas')).toHaveAttribute(
    'aria-label',
    'Generated image of “a red heart”, step 3 of 3',
  );
  const frames = page.getByTestId('filmstrip-frame');
  await expect(frames).toHaveCount(3);
  await expect(frames.nth(0)).toHaveAccessibleName('Step 1 of 3');
  await frames.nth(2).focus();
  await page.keyboard.press('ArrowLeft');
  await expect(frames.nth(1)).toBeFocused();
  await expect(frames.nth(1)).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('step-info')).toContainText('step 2/3');
  await page.keyboard.press('Home');
  await expect(frames.nth(0)).toBeFocused();
  await page.keyboard.press('End');
  await expect(frames.nth(2)).toBeFocused();
  expect(await violations(page, 'after a generation')).toEqual([]);

  // The fine-tune panel with two uploads (pairs grid, caption fields).
  const picture = png(128, (x) => (x < 64 ? [220, 40, 40] : [40, 70, 220]));
  await page
    .getByTestId('ft-file-input')
    .setInputFiles([1, 2].map((i) => ({ name: `pair-${i}.png`, mimeType: 'image/png', buffer: picture })));
  await expect(page.getByTestId('ft-item')).toHaveCount(2);
  expect(await violations(page, 'fine-tune panel with uploads')).toEqual([]);
});

test('intro and example prompts', async ({ page }) => {
  await open(page);
  await expect(page.getByTestId('intro')).toContainText('128');
  await expect(page.getByTestId('intro')).toContainText('never leave');
  const chips = page.getByTestId('example-prompt');
  await expect(chips).toHaveText([...EXAMPLE_PROMPTS]);
  await chips.filter({ hasText: EXAMPLE_PROMPTS[2] }).click();
  await expect(page.getByTestId('prompt')).toHaveValue(EXAMPLE_PROMPTS[2]);
  await expect(page.getByTestId('prompt')).toBeFocused();
  await expect(page.getByTestId('prompt-hint')).toHaveCount(0);

  const about = await page.getByTestId('about-link').getAttribute('href');
  await page.goto(new URL(about!, page.url()).href);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('About M-Mamba');
  expect(await violations(page, 'about page')).toEqual([]);
});

test('copy link and the gallery: kept across reloads, restorable, deletable', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await open(page);
  await expect(page.getByTestId('gallery-empty')).toBeVisible();
  await setNumber(page, 'guidance', 1);
  await setNumber(page, 'steps', 1);
  await setNumber(page, 'seed', 11);
  await page.getByTestId('prompt').fill('blue heart');
  await page.getByTestId('negative').fill('dark');
  await page.getByTestId('generate').click();
  await runs(page, 1);

  await page.getByTestId('copy-link').click();
  await expect(page.getByTestId('link-copied')).toHaveText('Link copied.');
  const link = new URL(await page.evaluate(() => navigator.clipboard.readText()));
  expect(Object.fromEntries(link.searchParams)).toEqual({
    prompt: 'blue heart',
    negative: 'dark',
    seed: '11',
    steps: '1',
    guidance: '1',
  });

  await setNumber(page, 'steps', 2);
  await setNumber(page, 'seed', 12);
  await page.getByTestId('prompt').fill('green tree');
  await page.getByTestId('negative').fill('');
  await page.getByTestId('generate').click();
  await runs(page, 2);
  const items = page.getByTestId('gallery-item');
  await expect(items).toHaveCount(2);
  await expect(page.getByTestId('gallery-restore').nth(0)).toHaveAttribute(
    'aria-label',
    /“green tree”, seed 12, 2 steps$/,
  );
  await expect(page.getByTestId('gallery-restore').nth(1)).toHaveAttribute(
    'aria-label',
    /“blue heart”, seed 11, 1 step$/,
  );
  expect(await violations(page, 'gallery with two images')).toEqual([]);

  // After a reload (a plain address: nothing from the link), the gallery is still there; the older image's settings
  // come back.
  await page.goto('/');
  await waitLoaded(page);
  await expect(items).toHaveCount(2);
  const thumbOk = await page
    .locator('mm-gallery img')
    .first()
    .evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0);
  expect(thumbOk).toBe(true);
  await page.getByTestId('gallery-restore').nth(1).click();
  await expect(page.getByTestId('prompt')).toHaveValue('blue heart');
  await expect(page.getByTestId('negative')).toHaveValue('dark');
  await expect(page.getByTestId('seed')).toHaveValue('11');
  await expect(page.getByTestId('steps')).toHaveValue('1');
  await expect(page.getByTestId('guidance')).toHaveValue('1');

  await page.getByTestId('gallery-delete').first().click();
  await expect(items).toHaveCount(1);
  await page.reload();
  await waitLoaded(page);
  await expect(items).toHaveCount(1);
  await expect(page.getByTestId('gallery-restore')).toHaveAttribute('aria-label', /blue heart/);
});

/** Adds a second tiny generator to the served index ("mmamba-e2e-b": the same weights under another id), so that
 *  one model can be missing while another is in use. */
async function serveSecondGenerator(page: Page): Promise<void> {
  const dir = new URL('./fixtures/models/', import.meta.url);
  const index = JSON.parse(readFileSync(new URL('index.json', dir), 'utf8')) as {
    models: { id: string; name: string }[];
  };
  const first = index.models.find((m) => m.id === 'mmamba-e2e')!;
  index.models.splice(1, 0, { ...first, id: 'mmamba-e2e-b', name: 'M-Mamba e2e tiny B' });
  await page.context().route(/\/models\/(index\.json|mmamba-e2e-b\/.*)$/, (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path.endsWith('/index.json'))
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(index) });
    const file = path.replace(/^.*\/mmamba-e2e-b\//, '');
    if (file === 'manifest.json') {
      const manifest = JSON.parse(readFileSync(new URL('mmamba-e2e/manifest.json', dir), 'utf8')) as {
        modelId: string;
      };
      return route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ ...manifest, modelId: 'mmamba-e2e-b' }),
      });
    }
    return route.fulfill({
      status: 200,
      contentType: 'application/octet-stream',
      body: readFileSync(new URL(`mmamba-e2e/${file}`, dir)),
    });
  });
}

test('models: delete asks first, missing models offered for download, persistent storage requested', async ({
  page,
}) => {
  await page.addInitScript(() => {
    const w = window as unknown as { persistCalls: number };
    w.persistCalls = 0;
    navigator.storage.persisted = async () => false;
    navigator.storage.persist = async () => (w.persistCalls++, true);
  });
  await muteHotReload(page.context());
  await serveTinyModels(page.context());
  await serveSecondGenerator(page);
  await page.goto('/');
  await waitLoaded(page);
  const cached = page.getByTestId('cached-model');
  await expect(cached).toHaveCount(2);
  const persistCalls = () => page.evaluate(() => (window as unknown as { persistCalls: number }).persistCalls);
  expect(await persistCalls()).toBe(0); // the first visit's automatic download does not ask

  // Not downloaded yet: listed with its size; Download fetches and loads it, and asks to keep storage.
  const missingB = page.locator('[data-testid="missing-model"][data-model="mmamba-e2e-b"]');
  await expect(missingB).toContainText('M-Mamba e2e tiny B');
  await expect(missingB).toContainText(/\d+(\.\d+)? KiB/);
  expect(await violations(page, 'a model not downloaded')).toEqual([]);
  await missingB.getByTestId('download-model').click();
  await expect(cached).toHaveCount(3, { timeout: RUN_TIMEOUT });
  await waitLoaded(page);
  await expect(page.getByTestId('missing-model')).toHaveCount(0);
  await expect(page.getByTestId('model-picker')).toHaveValue('mmamba-e2e-b');
  expect(await persistCalls()).toBe(1);

  // Deleting asks first: Escape keeps the model; Delete removes it and lists it as not downloaded.
  const dialog = page.locator('mm-model-panel').getByTestId('confirm-dialog');
  await page.locator('[data-testid="cached-model"][data-model="mmamba-e2e-b"]').getByTestId('delete-model').click();
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('Delete M-Mamba e2e tiny B');
  await expect(dialog).toContainText('the model in use');
  await expect(page.locator('mm-model-panel').getByTestId('confirm-cancel')).toBeFocused();
  expect(await violations(page, 'delete question')).toEqual([]);
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(cached).toHaveCount(3);

  await page.locator('[data-testid="cached-model"][data-model="mmamba-e2e"]').getByTestId('delete-model').click();
  await expect(dialog).toContainText('Delete M-Mamba e2e tiny (');
  await expect(dialog).not.toContainText('in use');
  await page.locator('mm-model-panel').getByTestId('confirm-ok').click();
  await expect(dialog).toBeHidden();
  await expect(cached).toHaveCount(2);
  await expect(page.locator('[data-testid="missing-model"][data-model="mmamba-e2e"]')).toBeVisible();
});
