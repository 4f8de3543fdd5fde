// Browser test of the steps whose preview was paced away (src/model/pipeline.ts previewEveryMs; the page:
// src/ui/edit_frames.ts ownPixels, image_view.ts), on the TINY model set (e2e/fixtures/models) so that it runs on
// SwiftShader. A 5-step run (after a warm-up run compiled the shaders) submits steps 0-2 at once (2 steps in
// flight), so steps 1 and 2 are paced away when they are recorded within 16.7 ms of step 0: they come without pixels
// and keep step 0's image. The first and last steps always have their own (and the first-image
// mark names step 0); picking a paced-away step in the filmstrip decodes its own picture through the worker's
// decodeTokens, shown on the canvas and stored on the frame; "Edit this step" hands the edit panel that picture.
import { expect, test, type Page } from '@playwright/test';
import { generate, waitLoaded } from './app_helpers';
import { muteHotReload, serveTinyModels } from './tiny_models';

test.use({ serviceWorkers: 'block' });

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

test('a paced-away step shows its own picture when picked, and edits with it', async ({ page, context }) => {
  test.setTimeout(600_000);
  await serveTinyModels(context);
  await muteHotReload(context);
  await page.goto('/');
  await waitLoaded(page);
  await generate(page, 'a warm-up', 2); // compiles the shaders: the measured run records its steps at full speed
  const last = await generate(page, 'a red square', 5);
  expect(last.frames).toBe(5);
  const before = await frames(page);
  console.log(`kept: ${before.map((f) => (f.kept ? 1 : 0)).join('')}`);
  expect(before[0]!.kept, 'the first step has its own picture').toBe(false);
  expect(before[4]!.kept, 'the last step has its own picture').toBe(false);
  expect(last.hash, 'the canvas shows the last step').toBe(before[4]!.hash);
  const firstMark = await page.evaluate(
    () => (performance.getEntriesByName('mm-first-step-image')[0] as PerformanceMark | undefined)?.detail,
  );
  expect(firstMark).toEqual({ step: 0 });
  const kept = before.flatMap((f, i) => (f.kept ? [i] : []));
  expect(kept.length, 'steps 1 and 2 were submitted with step 0: paced away').toBeGreaterThan(0);
  for (const i of kept) expect(before[i]!.hash, `step ${i + 1} keeps the last image`).toBe(before[i - 1]!.hash);

  const i = kept[kept.length - 1]!;
  await page.getByTestId('filmstrip-frame').nth(i).click();
  await expect.poll(async () => (await frames(page))[i]!.kept, { timeout: 60_000 }).toBe(false);
  const after = await frames(page);
  expect(after[i]!.tokens).toEqual(before[i]!.tokens);
  expect(after[i]!.hash, `step ${i + 1}: its own picture, not the kept one`).not.toBe(before[i]!.hash);
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
    .toBe(after[i]!.hash);

  await page.getByTestId('edit-this').click();
  await expect(page.getByTestId('edit-source')).toHaveText(`Editing step ${i + 1} of 5.`);
  const edited = await page.locator('mm-app').evaluate((app) => {
    const r = (app as unknown as { editResult: { tokens: Uint32Array; image: { pixels: Uint8ClampedArray } } })
      .editResult;
    let h = 2166136261;
    for (let k = 0; k < r.image.pixels.length; k++) if (k % 4 !== 3) h = Math.imul(h ^ r.image.pixels[k]!, 16777619);
    return { tokens: Array.from(r.tokens), hash: (h >>> 0).toString(16) };
  });
  expect(edited).toEqual({ tokens: after[i]!.tokens, hash: after[i]!.hash });
});
