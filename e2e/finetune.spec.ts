// Browser tests of "Teach a new word" (in-page LoRA fine-tuning) on a TINY model set, so that they run on
// SwiftShader in well under three minutes: e2e/fixtures/models (written by training/make_e2e_tiny.py: a 32×32
// VQ with 4×4 tokens and a matching tiny M-Mamba with a byte-level tokenizer) is served in place of the shipped
// models by intercepting /models/** (the shipped weights are never requested). Service workers are blocked so
// that every request reaches the route.
// Covered: 8 synthetic image/caption pairs (a two-colour checkerboard, "a zorblat") plus one non-image (and, in
// the second test, a PNG cut short) refused with a reason while the 8 proceed; a fixed-length run whose loss falls;
// save; reload; the adapter's image of "a zorblat" is closer to the uploads than the base model's with the same seed.
// Cancel mid-run leaves the app usable; a corrupt adapter file is refused with an error. A GPU device lost mid-run (the
// worker's dev-only hook) stops the run with a message, and the adapter of the last preview can still be saved.
import { expect, test, type Page } from '@playwright/test';
import { muteHotReload, png, serveTinyModels } from './tiny_models';
import { waitLoaded } from './app_helpers';
import { SHIPPED_IDS } from './e2e_generator';

const LOAD_TIMEOUT = 60_000;
const RUN_TIMEOUT = 120_000;
const WORD = 'zorblat';
/** The checkerboard the pairs show: 4×4 cells (one VQ token each at 32×32), red and blue (two colours the tiny VQ
 * reconstructs well). */
const COLOURS: [number, number, number][] = [
  [220, 40, 40],
  [40, 70, 220],
];

test.use({ serviceWorkers: 'block' });

const checker = (x: number, y: number, size: number) =>
  COLOURS[(Math.floor((x * 4) / size) + Math.floor((y * 4) / size)) % 2]!;

/** 8 pictures of the checkerboard (128×128 like a real upload; the same picture, so that a few steps on
 *  SwiftShader suffice to learn it) and their captions. */
function pairs(): { files: { name: string; mimeType: string; buffer: Buffer }[]; captions: Record<string, string> } {
  const picture = png(128, (x, y) => checker(x, y, 128));
  const files = Array.from({ length: 8 }, (_, i) => ({
    name: `${WORD}-${i + 1}.png`,
    mimeType: 'image/png',
    buffer: picture,
  }));
  return { files, captions: Object.fromEntries(files.map((f) => [f.name, `a ${WORD}`])) };
}

async function open(page: Page): Promise<void> {
  // Previews (and the drift guard's control renders) of 2 steps without guidance: they only have to show up, not be
  // good; the drift guard renders 1 of its 8 control prompts (each render costs seconds on a software GPU).
  await page.goto('/?ft-preview-steps=2&ft-preview-guidance=1&ft-drift-controls=1');
  await waitLoaded(page);
}

/** Opens the panel's "Advanced settings" fold (closed by default), where the run's numbers are. */
async function openAdvanced(page: Page): Promise<void> {
  const fold = page.getByTestId('ft-advanced');
  if (!(await fold.evaluate((d) => (d as HTMLDetailsElement).open))) await fold.locator('summary').click();
}

async function setNumber(page: Page, id: string, value: number): Promise<void> {
  if (id.startsWith('ft-')) await openAdvanced(page);
  const input = page.getByTestId(id);
  await input.fill(String(value));
  await input.dispatchEvent('change');
}

/** Drops the 8 pairs, a captions file and one non-image (refused on the page by its first bytes); with
 *  `broken`, also a PNG cut short (refused by the worker, which cannot decode it). Waits for the verdicts. */
async function upload(page: Page, { broken = false } = {}): Promise<void> {
  const { files, captions } = pairs();
  await page
    .getByTestId('ft-file-input')
    .setInputFiles([
      ...files,
      { name: 'captions.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(captions)) },
      { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('these are my notes, not a picture') },
      ...(broken ? [{ name: 'cut-short.png', mimeType: 'image/png', buffer: files[0]!.buffer.subarray(0, 60) }] : []),
    ]);
  const refused = page.getByTestId('ft-rejected');
  await expect(refused.filter({ hasText: 'notes.png' })).toContainText('not a PNG, JPEG or WebP');
  if (broken)
    await expect(refused.filter({ hasText: 'cut-short.png' })).toContainText('damaged or incomplete', {
      timeout: LOAD_TIMEOUT,
    });
  await expect(refused).toHaveCount(broken ? 2 : 1);
  await expect(page.getByTestId('ft-item')).toHaveCount(8);
  await expect(page.locator('[data-testid="ft-item"][data-status="ready"]')).toHaveCount(8, { timeout: LOAD_TIMEOUT });
  for (const c of await page.getByTestId('ft-caption').all()) await expect(c).toHaveValue(`a ${WORD}`);
}

/** Generates `prompt` with the picked adapter ('' = base); returns the mean absolute difference (0–255) of the
 *  final image from the uploads' checkerboard at the image's resolution. */
async function distanceToUploads(page: Page, prompt: string, adapter: string): Promise<number> {
  if (adapter || (await page.getByTestId('adapter-picker').count()))
    await page.getByTestId('adapter-picker').selectOption(adapter);
  await setNumber(page, 'steps', 8);
  await setNumber(page, 'guidance', 3);
  await setNumber(page, 'seed', 11);
  await page.getByTestId('prompt').fill(prompt);
  const runs = Number((await page.locator('mm-app').getAttribute('data-runs')) ?? 0);
  await page.getByTestId('generate').click();
  await expect(page.locator('mm-app')).toHaveAttribute('data-runs', String(runs + 1), { timeout: RUN_TIMEOUT });
  await expect(page.getByTestId('gen-error')).toHaveCount(0);
  return page.getByTestId('canvas').evaluate((c: HTMLCanvasElement, colours) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let y = 0; y < c.height; y++)
      for (let x = 0; x < c.width; x++) {
        const want = colours[(Math.floor((x * 4) / c.width) + Math.floor((y * 4) / c.height)) % 2]!;
        for (let ch = 0; ch < 3; ch++) sum += Math.abs(d[(y * c.width + x) * 4 + ch]! - want[ch]!);
      }
    return sum / (c.width * c.height * 3);
  }, COLOURS);
}

/** The shown image's pixels as an FNV-1a hash (equal pictures, bit for bit, hash equal). */
async function canvasHash(page: Page): Promise<number> {
  return page.getByTestId('canvas').evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let h = 0x811c9dc5;
    for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 0x01000193) >>> 0;
    return h;
  });
}

test('teach a new word: refuse a non-image, train, loss falls, save, reload, the adapter draws the word', async ({
  page,
  context,
}) => {
  test.setTimeout(240_000);
  const requested = await serveTinyModels(context);
  await muteHotReload(context);
  await open(page);
  const shipped = SHIPPED_IDS.map((id) => `${id}/`);
  expect(shipped.length).toBeGreaterThan(1);
  expect(requested.some((p) => shipped.some((s) => p.startsWith(s)))).toBe(false);
  await upload(page);

  // A fine-tuning step of even the tiny model takes seconds on SwiftShader: few steps, a high learning rate.
  const STEPS = 10;
  await setNumber(page, 'ft-rank', 8);
  await setNumber(page, 'ft-steps', STEPS);
  await setNumber(page, 'ft-lr', 0.05);
  await setNumber(page, 'ft-batch', 4);
  await setNumber(page, 'ft-preview-every', 5);
  await setNumber(page, 'ft-seed', 1);
  // "What to adapt": three choices, generator + text encoder by default (the run below uses it)
  await expect(page.getByTestId('ft-adapt').locator('option')).toHaveCount(3);
  await expect(page.getByTestId('ft-adapt')).toHaveValue('all');
  const t0 = Date.now();
  await page.getByTestId('ft-start').click();
  await expect(page.getByTestId('ft-progress')).toBeVisible();
  await expect(page.locator('mm-finetune-panel')).toHaveAttribute('data-runs', '1', { timeout: RUN_TIMEOUT });
  console.log(`fine-tuning ${STEPS} steps: ${Date.now() - t0} ms (SwiftShader)`);
  await expect(page.getByTestId('ft-error')).toHaveCount(0);
  await expect(page.getByTestId('ft-status')).toContainText('Done');
  await expect(page.getByTestId('ft-step-info')).toContainText(`step ${STEPS} / ${STEPS}`);
  await expect(page.getByTestId('ft-speed')).toContainText('steps/s');
  await expect(page.getByTestId('ft-preview')).toHaveCount(2); // step 5 and the end
  // The drift guard: the control prompt as the base drew it before the run and as the adapter, forced on, draws it
  // after (the leakage: with the word gate the page draws it as the base does), with its drift and the summary
  // against the bounds (a warning when past them).
  await expect(page.getByTestId('ft-control')).toHaveCount(1);
  await expect(page.getByTestId('ft-control').locator('img')).toHaveCount(2);
  await expect(page.getByTestId('ft-control-drift')).toContainText(/dB|same/);
  const summary = page.getByTestId('ft-drift-summary');
  await expect(summary).toContainText(
    `After the run (step ${STEPS}), leakage on 1 other prompt with the adapter forced on:`,
  );
  await expect(page.getByTestId('ft-drift-note')).toContainText('drawn by the base model unchanged');
  const within = (await summary.getAttribute('data-within')) === 'true';
  console.log(`drift guard: ${await summary.textContent()} (within the bounds: ${within})`);
  await expect(page.getByTestId('ft-drift-warning')).toHaveCount(within ? 0 : 1);

  const losses = JSON.parse((await page.getByTestId('ft-loss-chart').getAttribute('data-losses')) ?? '[]') as number[];
  expect(losses).toHaveLength(STEPS);
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  const first = mean(losses.slice(0, 3));
  const last = mean(losses.slice(-3));
  console.log(`loss: first three ${first.toFixed(3)}, last three ${last.toFixed(3)}`);
  expect(last).toBeLessThan(first * 0.5);

  await expect(page.getByTestId('ft-save-name')).toHaveValue(WORD); // suggested: the word every caption shares
  await page.getByTestId('ft-save-name').fill(WORD);
  await page.getByTestId('ft-save').click();
  await expect(page.locator(`[data-testid="adapter-row"][data-name="${WORD}"]`)).toBeVisible();

  await page.reload();
  await waitLoaded(page);
  await expect(page.locator(`[data-testid="adapter-row"][data-name="${WORD}"]`)).toBeVisible();
  const base = await distanceToUploads(page, `a ${WORD}`, '');
  const tuned = await distanceToUploads(page, `a ${WORD}`, WORD);
  console.log(`mean |pixel − upload|: base ${base.toFixed(1)}, adapter ${tuned.toFixed(1)}`);
  expect(tuned).toBeLessThan(base * 0.7);
  // Adapter strength: the slider beside the picker starts at 1; at 0 the adapter draws exactly what the base draws.
  await expect(page.getByTestId('adapter-strength')).toHaveValue('1');
  await page.getByTestId('adapter-strength').fill('0');
  await expect(page.getByTestId('adapter-strength-value')).toHaveText('0.00');
  const off = await distanceToUploads(page, `a ${WORD}`, WORD);
  console.log(`adapter at strength 0: ${off.toFixed(3)} (base ${base.toFixed(3)})`);
  expect(off).toBe(base);
  // The word gate: a control prompt without the word, with the adapter picked, is drawn exactly as by the base model;
  // with "Apply to every prompt" the adapter is forced on and the drawing changes (its leakage).
  await page.getByTestId('adapter-strength').fill('1');
  await expect(page.getByTestId('adapter-strength-value')).toHaveText('1.00');
  const control = 'red apple';
  const plain = await distanceToUploads(page, control, '');
  const plainHash = await canvasHash(page);
  const gated = await distanceToUploads(page, control, WORD);
  await expect(page.getByTestId('adapter-every-prompt')).not.toBeChecked();
  expect(gated).toBe(plain);
  expect(await canvasHash(page)).toBe(plainHash);
  await page.getByTestId('adapter-every-prompt').check();
  const forced = await distanceToUploads(page, control, WORD);
  const forcedHash = await canvasHash(page);
  console.log(`"${control}": base ${plain.toFixed(3)}, gated ${gated.toFixed(3)}, forced on ${forced.toFixed(3)}`);
  expect(forcedHash).not.toBe(plainHash);
});

test('a broken PNG is refused by the worker; cancel mid-run keeps nothing and leaves the app usable; a corrupt adapter file is refused', async ({
  page,
  context,
}) => {
  test.setTimeout(180_000);
  await serveTinyModels(context);
  await muteHotReload(context);
  await open(page);
  await upload(page, { broken: true });
  await setNumber(page, 'ft-steps', 1000);
  await setNumber(page, 'ft-preview-every', 0);
  await setNumber(page, 'ft-batch', 4);
  await page.getByTestId('ft-start').click();
  await expect(page.getByTestId('ft-step-info')).toContainText(/step ([2-9]|\d\d+) \/ 1000/, { timeout: RUN_TIMEOUT });

  // Training holds the GPU: Generate waits. Pause frees it; resume; then cancel.
  await expect(page.getByTestId('generate')).toBeDisabled();
  await expect(page.getByTestId('prompt-note')).toContainText('Fine-tuning is using the GPU');
  await page.getByTestId('ft-pause').click();
  await expect(page.getByTestId('ft-resume')).toBeVisible();
  await expect(page.getByTestId('ft-status')).toContainText('Paused');
  await expect(page.getByTestId('generate')).toBeEnabled();
  await page.getByTestId('ft-resume').click();
  await expect(page.getByTestId('ft-pause')).toBeVisible();
  await page.getByTestId('ft-cancel').click();
  await expect(page.getByTestId('ft-status')).toContainText('Cancelled', { timeout: RUN_TIMEOUT });
  await expect(page.getByTestId('ft-save')).toHaveCount(0);
  await expect(page.getByTestId('no-adapters')).toBeVisible();
  await expect(page.getByTestId('ft-start')).toBeEnabled();

  // Generation still works (base model).
  const d = await distanceToUploads(page, 'red', '');
  expect(d).toBeGreaterThan(0);

  // A damaged adapter file: a clear error, nothing added.
  await page.getByTestId('ft-import-input').setInputFiles({
    name: 'broken.safetensors',
    mimeType: 'application/octet-stream',
    buffer: Buffer.from('definitely not safetensors'),
  });
  await expect(page.getByTestId('adapter-error')).toContainText(/Could not import "broken"/);
  await expect(page.getByTestId('no-adapters')).toBeVisible();
});

test('a GPU lost mid-run stops training with a message; the adapter of the last preview is saved; generation recovers', async ({
  page,
  context,
}) => {
  test.setTimeout(180_000);
  await serveTinyModels(context);
  await muteHotReload(context);
  await open(page);
  await upload(page);
  await setNumber(page, 'ft-steps', 1000);
  await setNumber(page, 'ft-preview-every', 2);
  await setNumber(page, 'ft-batch', 4);
  await page.getByTestId('ft-start').click();
  await expect(page.getByTestId('ft-preview').first()).toBeVisible({ timeout: RUN_TIMEOUT });
  const worker = page.workers().find((w) => /worker/.test(w.url()));
  expect(worker, 'the engine worker').toBeTruthy();
  await worker!.evaluate(() => (self as unknown as { __mmLoseDevice: () => void }).__mmLoseDevice());
  await expect(page.getByTestId('ft-error')).toContainText(/Training stopped: .*can still be saved/, {
    timeout: RUN_TIMEOUT,
  });
  await expect(page.getByTestId('ft-status')).toContainText('Stopped after');
  await page.getByTestId('ft-save-name').fill('after-loss');
  await page.getByTestId('ft-save').click();
  await expect(page.locator('[data-testid="adapter-row"][data-name="after-loss"]')).toBeVisible();
  // the next generation re-acquires the GPU
  expect(await distanceToUploads(page, 'red', '')).toBeGreaterThan(0);
});
