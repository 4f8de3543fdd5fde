// Browser test of the steps whose preview was paced away (src/model/pipeline.ts previewEveryMs; the page:
// src/ui/edit_frames.ts ownPixels, image_view.ts), on the TINY model set (e2e/fixtures/models) so that it runs on
// SwiftShader. No timing decides anything: the page URL forces the pacing (`?preview-every-ms=`, src/ui/app.ts).
// The reference run decodes every step (0); the paced run asks for an hour (PREVIEW_EVERY_MS_MAX), so of its 5 steps
// exactly steps 2-4 come without pixels and keep step 1's image, whatever the machine's speed. Same prompt, seed and
// settings: every step's tokens equal the reference's. The first-image mark names step 1 (`{ step: 0 }`: the first
// step is always decoded); picking a paced-away step in the filmstrip decodes its own picture through the worker's decodeTokens,
// which must be the reference run's picture of that step, shown on the canvas and stored on the frame; "Edit this
// step" hands the edit panel that picture and its tokens.
import { expect, test, type Page } from '@playwright/test';
import { generate, setNumber, waitLoaded } from './app_helpers';
import { muteHotReload, serveTinyModels } from './tiny_models';

test.use({ serviceWorkers: 'block' });

const STEPS = 5;
const SEED = 7;
const PROMPT = 'a red square';
/** PREVIEW_EVERY_MS_MAX (src/worker/generation/requests.ts): no step between the first and the last is decoded. */
const NEVER_MS = 3_600_000;

interface FrameFacts {
  kept: boolean;
  /** FNV-1a of the frame's RGB bytes (as canvasStats hashes the canvas). */
  hash: string;
  tokens: number[];
}

/** The main view's frames: kept flag, pixel hash, tokens. */
const frames = (page: Page) =>
  page.locator('mm-app').evaluate((app) => {
    const fs = (app as unknown as { frames: Array<{ kept?: boolean; pixels: Uint8ClampedArray; tokens: Uint32Array }> })
      .frames;
    return fs.map((f) => {
      let h = 2166136261;
      for (let i = 0; i < f.pixels.length; i++) if (i % 4 !== 3) h = Math.imul(h ^ f.pixels[i]!, 16777619);
      return { kept: !!f.kept, hash: (h >>> 0).toString(16), tokens: Array.from(f.tokens) };
    });
  }) as Promise<FrameFacts[]>;

/** Loads the page with this pacing and runs the prompt; the run's frames and the first-image mark's detail. */
async function run(page: Page, previewEveryMs: number) {
  await page.goto(`/?preview-every-ms=${previewEveryMs}`);
  await waitLoaded(page);
  await setNumber(page, 'seed', SEED);
  const last = await generate(page, PROMPT, STEPS);
  expect(last.frames).toBe(STEPS);
  const got = await frames(page);
  expect(last.hash, 'the canvas shows the last step').toBe(got[STEPS - 1]!.hash);
  const mark = await page.evaluate(
    () => (performance.getEntriesByName('mm-first-step-image')[0] as PerformanceMark | undefined)?.detail,
  );
  return { frames: got, mark };
}

test('a paced-away step shows its own picture when picked, and edits with it', async ({ page, context }) => {
  test.setTimeout(600_000);
  await serveTinyModels(context);
  await muteHotReload(context);

  const ref = await run(page, 0);
  expect(
    ref.frames.map((f) => f.kept),
    'pacing 0: every step has its own picture',
  ).toEqual(Array(STEPS).fill(false));
  expect(ref.mark).toEqual({ step: 0 });

  const paced = await run(page, NEVER_MS);
  const before = paced.frames;
  expect(
    before.map((f) => f.kept),
    'an hour of pacing: only the first and last steps are decoded',
  ).toEqual([false, true, true, true, false]);
  expect(paced.mark, 'the first-image mark names the first (decoded) step').toEqual({ step: 0 });
  for (let k = 0; k < STEPS; k++) {
    expect(before[k]!.tokens, `step ${k + 1}: pacing changes no token`).toEqual(ref.frames[k]!.tokens);
    if (!before[k]!.kept) expect(before[k]!.hash, `step ${k + 1}: its own picture`).toBe(ref.frames[k]!.hash);
    else expect(before[k]!.hash, `step ${k + 1} keeps the last image`).toBe(before[k - 1]!.hash);
  }

  const i = 3; // step 4 of 5: paced away
  // the check below can tell the picked step's own picture from the kept one
  expect(ref.frames[i]!.hash, `step ${i + 1}'s own picture differs from step 1's`).not.toBe(before[i]!.hash);
  await page.getByTestId('filmstrip-frame').nth(i).click();
  await expect.poll(async () => (await frames(page))[i]!.kept, { timeout: 60_000 }).toBe(false);
  const after = await frames(page);
  expect(after[i], `step ${i + 1}: its own picture, the reference run's`).toEqual(ref.frames[i]);
  // the canvas shows it (canvasStats' hash of the canvas, the same FNV-1a)
  await expect
    .poll(() =>
      page.getByTestId('canvas').evaluate((c: HTMLCanvasElement) => {
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let h = 2166136261;
        for (let k = 0; k < d.length; k++) if (k % 4 !== 3) h = Math.imul(h ^ d[k]!, 16777619);
        return (h >>> 0).toString(16);
      }),
    )
    .toBe(ref.frames[i]!.hash);

  await page.getByTestId('edit-this').click();
  await expect(page.getByTestId('edit-source')).toHaveText(`Editing step ${i + 1} of ${STEPS}.`);
  const edited = await page.locator('mm-app').evaluate((app) => {
    const r = (app as unknown as { editResult: { tokens: Uint32Array; image: { pixels: Uint8ClampedArray } } })
      .editResult;
    let h = 2166136261;
    for (let k = 0; k < r.image.pixels.length; k++) if (k % 4 !== 3) h = Math.imul(h ^ r.image.pixels[k]!, 16777619);
    return { tokens: Array.from(r.tokens), hash: (h >>> 0).toString(16) };
  });
  expect(edited).toEqual({ tokens: ref.frames[i]!.tokens, hash: ref.frames[i]!.hash });
});
