// "Teach a new word" for everyday use (issue 17), in the page on SwiftShader with the TINY model set (service
// workers blocked, so every /models/ request reaches the route):
// - the run's settings sit in an "Advanced settings" fold, closed by default, each with a one-line description;
// - a time estimate shows before Start: none on a fresh profile, a rough one once a guided generation measured this
//   device, one from the run's own speed after a run; it follows the settings (more steps, a longer estimate);
// - caption fields show their whole text (they wrap and grow), the refused-files list keeps its list semantics
//   (the live region wraps it), the loss chart has axis titles and an accessible name that says what they are;
// - the "New word" field is labelled and described, prefilled with the captions' guess (here a wrong one: every
//   caption shares the longer "windowsill"), and a word that is not a whole word of every caption shows why and
//   keeps Start disabled; the saved adapter's row and the strength panel say which prompts it applies to;
// - deleting a saved adapter asks first (Escape keeps it, Delete deletes it);
// - zero axe-core violations with the fold open and uploads, while a run goes, after it, with the adapter picked for
//   generation (strength and "Apply to every prompt", labelled) and with the dialog open.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { setNumber, waitLoaded } from './app_helpers';
import { muteHotReload, png, serveTinyModels } from './tiny_models';

test.use({ serviceWorkers: 'block' });
const RUN_TIMEOUT = 120_000;
const LONG_CAPTION = 'a zorblat, the small round red and blue checkered creature that lives on the windowsill';

async function violations(page: Page, label: string): Promise<string[]> {
  const r = await new AxeBuilder({ page }).analyze();
  const found = r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
  if (found.length) console.log(`axe, ${label}:\n${JSON.stringify(r.violations, null, 1).slice(0, 4000)}`);
  return found;
}

/** Seconds of "About 1 h 02 min", "About 3 min 05 s", "About 12 s" (formatDuration's forms). */
function seconds(text: string): number {
  const h = /(\d+) h (\d+) min/.exec(text);
  if (h) return Number(h[1]) * 3600 + Number(h[2]) * 60;
  const m = /(\d+) min (\d+) s/.exec(text);
  if (m) return Number(m[1]) * 60 + Number(m[2]);
  const s = /About (\d+) s/.exec(text);
  if (s) return Number(s[1]);
  throw new Error(`no duration in "${text}"`);
}

test('fine-tune panel: advanced fold with help, estimate before Start, whole captions, chart axes, adapter delete asks', async ({
  page,
}) => {
  test.setTimeout(300_000);
  await muteHotReload(page.context());
  await serveTinyModels(page.context());
  // Previews and the drift guard's control renders of 1 step without guidance, and 1 control prompt: cheap on
  // a software GPU.
  await page.goto('/?ft-preview-steps=1&ft-preview-guidance=1&ft-drift-controls=1');
  await waitLoaded(page);
  const panel = page.locator('mm-finetune-panel');
  const estimate = page.getByTestId('ft-estimate');

  // The fold is closed: the numbers are out of sight; a fresh profile has no measured speed yet.
  const fold = page.getByTestId('ft-advanced');
  expect(await fold.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
  await expect(page.getByTestId('ft-rank')).toBeHidden();
  await expect(estimate).toHaveText(/^Time: estimated once this device has generated an image/);

  // A guided generation measures this device: a rough estimate for the default 200 steps.
  await setNumber(page, 'steps', 3);
  await setNumber(page, 'guidance', 2);
  await page.getByTestId('prompt').fill('a red heart');
  await page.getByTestId('generate').click();
  await expect(page.locator('mm-app')).toHaveAttribute('data-runs', '1', { timeout: RUN_TIMEOUT });
  await expect(estimate).toHaveText(/^About .+ for 200 steps \(rough, from this device's generation speed\)\.$/);
  const rough200 = seconds((await estimate.textContent())!);

  // Open the fold: every setting has a one-line description; more steps, a longer estimate.
  await fold.locator('summary').click();
  await expect(page.getByTestId('ft-rank')).toBeVisible();
  for (const [id, words] of [
    ['ft-steps', /more learns the word/],
    ['ft-rank', /Size of the add-on/],
    ['ft-lr', /How big each step is/],
    ['ft-batch', /Pictures per step/],
    ['ft-seed', /same adapter/],
    ['ft-adapt', /Which parts of the model learn/],
  ] as const)
    await expect(page.getByTestId(id)).toHaveAccessibleDescription(words);
  await setNumber(page, 'ft-steps', 2000);
  await expect(estimate).toHaveText(/for 2000 steps/);
  const rough2000 = seconds((await estimate.textContent())!);
  console.log(`estimates (rough): 200 steps ${rough200} s, 2000 steps ${rough2000} s`);
  expect(rough2000).toBeGreaterThan(rough200 * 5);

  // Pictures with a long caption and a non-image: captions show all their text; the refused list is a list
  // inside a live region.
  const picture = png(128, (x, y) => ((Math.floor(x / 32) + Math.floor(y / 32)) % 2 ? [40, 70, 220] : [220, 40, 40]));
  const files = [1, 2, 3, 4].map((i) => ({ name: `zorblat-${i}.png`, mimeType: 'image/png', buffer: picture }));
  await page
    .getByTestId('ft-file-input')
    .setInputFiles([
      ...files,
      { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('these are my notes, not a picture') },
    ]);
  await expect(page.locator('[data-testid="ft-item"][data-status="ready"]')).toHaveCount(4, { timeout: RUN_TIMEOUT });
  await expect(page.getByTestId('ft-rejected')).toHaveCount(1);
  await expect(page.getByTestId('ft-rejected-list')).not.toHaveAttribute('role', /./);
  await expect(page.getByTestId('ft-rejected-status')).toHaveAttribute('role', 'status');
  const captions = page.getByTestId('ft-caption');
  for (const c of await captions.all()) await c.fill(LONG_CAPTION);
  await expect(captions.first()).toHaveValue(LONG_CAPTION);
  const box = await captions.first().evaluate((t: HTMLTextAreaElement) => ({
    scrollH: t.scrollHeight,
    clientH: t.clientHeight,
    scrollW: t.scrollWidth,
    clientW: t.clientWidth,
    lineH: Number.parseFloat(getComputedStyle(t).lineHeight),
  }));
  console.log(`caption box: ${JSON.stringify(box)}`);
  expect(box.scrollH).toBeLessThanOrEqual(box.clientH + 1); // nothing hidden below
  expect(box.scrollW).toBeLessThanOrEqual(box.clientW + 1); // nor to the side
  expect(box.clientH).toBeGreaterThan(2 * box.lineH); // it wrapped onto several lines to show it all
  // The new word: prefilled with the guess, the longest word every caption shares (wrong here); a part of the word
  // is refused inline with Start disabled; the made-up word is accepted.
  const word = page.getByTestId('ft-word');
  await expect(word).toHaveAccessibleName('New word');
  await expect(word).toHaveAccessibleDescription(
    /the made-up word your captions use; prompts with it use the adapter/i,
  );
  await expect(word).toHaveValue('windowsill');
  await expect(page.getByTestId('ft-word-error')).toHaveCount(0);
  await word.fill('zorb');
  await expect(page.getByTestId('ft-word-error')).toHaveText(
    'Every caption must use "zorb" as a whole word: 4 of 4 captions do not (e.g. "a zorblat, the small round red and blue…").',
  );
  await expect(word).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByTestId('ft-start')).toBeDisabled();
  expect(await violations(page, 'fine-tune fold open, uploads, a refused file, an invalid word')).toEqual([]);
  await word.fill('zorblat');
  await expect(page.getByTestId('ft-word-error')).toHaveCount(0);
  await expect(page.getByTestId('ft-start')).toBeEnabled();

  // A short run: the chart's axes are titled and named; no violations while it runs and after it.
  await setNumber(page, 'ft-steps', 4);
  await setNumber(page, 'ft-batch', 4);
  await setNumber(page, 'ft-lr', 0.05);
  await setNumber(page, 'ft-preview-every', 0);
  await setNumber(page, 'ft-drift-every', 0);
  await expect(estimate).toHaveText(/for 4 steps \(rough/);
  await page.getByTestId('ft-start').click();
  await expect(estimate).toHaveCount(0); // replaced by the live speed line while the run goes
  await expect(page.getByTestId('ft-step-info')).toContainText(/step [1-3] \/ 4/, { timeout: RUN_TIMEOUT });
  expect(await violations(page, 'fine-tuning running')).toEqual([]);
  await expect(panel).toHaveAttribute('data-runs', '1', { timeout: RUN_TIMEOUT });
  await expect(page.getByTestId('ft-error')).toHaveCount(0);
  const chart = page.getByTestId('ft-loss-chart');
  await expect(chart.locator('text[data-axis="x"]')).toHaveText('step');
  await expect(chart.locator('text[data-axis="y"]')).toHaveText('loss');
  await expect(chart.getByRole('img')).toHaveAccessibleName(
    /^Loss chart \(x: step 1 to 4, y: loss\): 4 steps, last loss [\d.]+, lowest [\d.]+, highest [\d.]+$/,
  );
  // The run measured its own speed: the next estimate comes from it.
  await expect(estimate).toHaveText(/^About .+ for 4 steps \(from this device's last fine-tuning speed\)\.$/);
  expect(await violations(page, 'fine-tuning done')).toEqual([]);

  // Save it, then delete it: asked first; Escape keeps it, Delete deletes it.
  await page.getByTestId('ft-save-name').fill('zorblat');
  await page.getByTestId('ft-save').click();
  const adapters = page.locator('mm-finetune-adapters');
  const row = adapters.getByTestId('adapter-row').filter({ hasText: 'zorblat' });
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId('adapter-row-scope')).toHaveText("applies to prompts with 'zorblat'");
  // Picked for generation: the strength slider and the word gate's opt-out, off and labelled; no violations.
  await page.getByTestId('adapter-picker').selectOption('zorblat');
  const every = page.getByTestId('adapter-every-prompt');
  await expect(every).toHaveAccessibleName('Apply to every prompt');
  await expect(every).toHaveAccessibleDescription(/Only prompts with the adapter’s word use it/);
  await expect(every).not.toBeChecked();
  const scope = page.getByTestId('adapter-scope');
  await expect(scope).toHaveText("applies to prompts with 'zorblat'");
  expect(await violations(page, 'adapter picked')).toEqual([]);
  await every.check();
  await expect(scope).toHaveText('(every prompt)');
  await every.uncheck();
  await expect(scope).toHaveText("applies to prompts with 'zorblat'");
  await page.getByTestId('adapter-picker').selectOption('');
  const dialog = adapters.getByTestId('confirm-dialog');
  await row.getByTestId('adapter-delete').click();
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('Delete the adapter "zorblat"');
  await expect(adapters.getByTestId('confirm-cancel')).toBeFocused();
  expect(await violations(page, 'adapter delete dialog')).toEqual([]);
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(row).toHaveCount(1);
  await row.getByTestId('adapter-delete').click();
  await adapters.getByTestId('confirm-ok').click();
  await expect(row).toHaveCount(0);
  await expect(adapters.getByTestId('adapter-note')).toHaveText('Deleted "zorblat".');
});
