// Time to the first image in the browser (docs/architecture.md "Targets": under 2 s after a reload with cached weights,
// on a desktop GPU). Headless Chromium with the flags of playwright.config.ts (WebGPU; SwiftShader on a CPU-only
// machine) opens the app in a fresh profile (cold: the weights download), starts a generation as soon as the model
// is ready, and reads the page's performance mark `mm-first-step-image` (set by src/ui/image_view.ts when the first
// step with its own picture is painted: a step whose preview was paced away, showing a kept or blank image, does not
// set it; like every mark, relative to navigation start; its detail names the step, the first one since the first
// step's preview is always decoded); then it reloads the same profile (warm: weights from IndexedDB, the app shell
// from the service worker's cache) and measures again, `--runs` times. Before it counts, the canvas is checked to
// hold a picture (not a blank frame). The run is cancelled after its first step image (only it is measured).
//
// Usage: npm run bench:first-image -- [--server build|dev] [--url URL] [--runs N] [--steps S] [--guidance G]
//        [--prompt TEXT] [--json FILE]
//   --server build (default): `vite build` into node_modules/.cache and serve it with `vite preview` (what users get);
//   --server dev: the Vite dev server (hundreds of module requests; slower to load);  --url: a server already up.
// Not a test: it only prints a markdown table (and JSON with --json).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { chromium, type Page } from '@playwright/test';
import config from '../playwright.config';
import { arg } from './cli';

const PORT = 5197;
/** Median of sorted values (mean of the middle two for an even count). */
const median = (xs: number[]) => (xs[(xs.length - 1) >> 1]! + xs[xs.length >> 1]!) / 2;
const OUT_DIR = 'node_modules/.cache/first-image-dist';

interface Measure {
  run: string;
  /** ms from navigation start until the Generate button was enabled (seen by polling every 20 ms). */
  readyMs: number;
  /** ms from navigation start to the `mm-first-step-image` mark. */
  firstImageMs: number;
  /** ms from pressing Generate to the mark. */
  firstStepMs: number;
  /** The step (1-based) whose picture set the mark: 1, since the first step's preview is always decoded. */
  firstImageStep: number;
  shardRequests: number;
}

async function waitForServer(url: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`no server at ${url} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Starts the server this run needs; returns its URL and the process to stop (null for --url). */
async function startServer(): Promise<{ url: string; proc: ChildProcess | null }> {
  const given = arg('--url', '');
  if (given) return { url: given, proc: null };
  const mode = arg('--server', 'build');
  const url = `http://127.0.0.1:${PORT}`;
  let cmd: string[];
  if (mode === 'build') {
    process.stderr.write('first-image: vite build…\n');
    const b = spawnSync('npx', ['vite', 'build', '--outDir', OUT_DIR, '--emptyOutDir', '--logLevel', 'warn'], {
      stdio: 'inherit',
    });
    if (b.status !== 0) throw new Error('vite build failed');
    cmd = ['vite', 'preview', '--outDir', OUT_DIR, '--host', '127.0.0.1', '--port', String(PORT), '--strictPort'];
  } else if (mode === 'dev') {
    cmd = ['vite', '--host', '127.0.0.1', '--port', String(PORT), '--strictPort'];
  } else throw new Error(`--server must be build or dev, got ${mode}`);
  const proc = spawn('npx', cmd, { stdio: 'ignore', detached: true });
  await waitForServer(url, 120_000);
  return { url, proc };
}

/** The Generate button is enabled: the model is loaded. Polls inside the page so the time is the page's own. */
async function readyAt(page: Page, timeoutMs: number): Promise<number> {
  const generate = page.getByTestId('generate');
  const t0 = Date.now();
  for (;;) {
    if (await generate.isEnabled().catch(() => false)) return page.evaluate(() => performance.now());
    const err = page.getByTestId('load-error');
    if (await err.isVisible().catch(() => false)) throw new Error(`model load failed: ${await err.textContent()}`);
    if (Date.now() - t0 > timeoutMs) throw new Error('the model did not load in time');
    await page.waitForTimeout(20);
  }
}

async function setNumber(page: Page, id: string, value: number): Promise<void> {
  const input = page.getByTestId(id);
  await input.fill(String(value));
  await input.dispatchEvent('change');
}

/** One measured page load: navigation (or reload) → model ready → Generate → first step image; then cancels. */
async function measure(
  page: Page,
  run: string,
  navigate: () => Promise<unknown>,
  shards: { n: number },
): Promise<Measure> {
  shards.n = 0;
  await navigate();
  const readyMs = await readyAt(page, 600_000);
  await setNumber(page, 'steps', Number(arg('--steps', '12')));
  await setNumber(page, 'guidance', Number(arg('--guidance', '4')));
  await page.getByTestId('prompt').fill(arg('--prompt', 'red apple'));
  const pressedMs = await page.evaluate(() => performance.now());
  await page.getByTestId('prompt').press('Enter');
  // (anonymous, unnamed callbacks: tsx would wrap named ones in a helper the page does not have)
  await page.waitForFunction(() => performance.getEntriesByName('mm-first-step-image').length > 0, undefined, {
    polling: 20,
    timeout: 1_200_000,
  });
  const mark = await page.evaluate(() => {
    const m = performance.getEntriesByName('mm-first-step-image')[0] as PerformanceMark;
    return { startTime: m.startTime, step: (m.detail as { step?: number } | null)?.step };
  });
  if (typeof mark.step !== 'number')
    throw new Error('the first-image mark names no step (a build from before pacing?)');
  // the picture on the canvas: a blank (transparent) frame would mean the mark came before any decoded image
  const painted = await page.getByTestId('canvas').evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
    return false;
  });
  if (!painted) throw new Error('the canvas is blank at the first-image mark');
  const firstImageMs = mark.startTime;
  const cancel = page.getByTestId('cancel');
  if (await cancel.isVisible().catch(() => false)) await cancel.click().catch(() => undefined);
  await page.getByTestId('generate').waitFor({ state: 'visible', timeout: 600_000 });
  return {
    run,
    readyMs,
    firstImageMs,
    firstStepMs: firstImageMs - pressedMs,
    firstImageStep: mark.step + 1,
    shardRequests: shards.n,
  };
}

async function main(): Promise<void> {
  const runs = Number(arg('--runs', '3'));
  const launch = config.projects?.[0]?.use?.launchOptions ?? {};
  const { url, proc } = await startServer();
  const browser = await chromium.launch({ ...launch, headless: true });
  const rows: Measure[] = [];
  let adapter = '';
  try {
    const context = await browser.newContext({ baseURL: url });
    const page = await context.newPage();
    page.setDefaultTimeout(600_000);
    const shards = { n: 0 };
    context.on('request', (r) => {
      if (new URL(r.url()).pathname.endsWith('.safetensors')) shards.n++;
    });
    rows.push(await measure(page, 'cold (first visit: download)', () => page.goto('/'), shards));
    adapter =
      (
        await page
          .getByTestId('adapter-name')
          .textContent()
          .catch(() => null)
      )?.trim() ?? '';
    // warm runs need the weights in IndexedDB and the shell in the service worker's cache
    await page.locator('[data-testid="cached-model"]').nth(1).waitFor({ timeout: 60_000 });
    await page
      .locator('html[data-offline-ready="true"]')
      .waitFor({ timeout: 120_000 })
      .catch(() => undefined);
    for (let i = 0; i < runs; i++) {
      rows.push(await measure(page, `warm ${i + 1} (reload, cached weights)`, () => page.reload(), shards));
      process.stderr.write(`first-image: ${rows.at(-1)!.run}: ${rows.at(-1)!.firstImageMs.toFixed(0)} ms\n`);
    }
  } finally {
    await browser.close();
    if (proc?.pid) process.kill(-proc.pid);
  }
  const warm = rows
    .slice(1)
    .map((r) => r.firstImageMs)
    .sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(0);
  const lines = [
    `# Time to first image (${arg('--server', arg('--url', '') ? 'given URL' : 'build')}; ${arg('--steps', '12')} steps, guidance ${arg('--guidance', '4')})`,
    '',
    `- browser: Chromium ${browser.version()} headless, flags of playwright.config.ts; adapter: ${adapter || 'see the GPU panel'}`,
    '- times from navigation start (performance marks); ready = Generate enabled; first image = mark `mm-first-step-image`',
    "  (the first step painted with its own picture; 'step' = which one)",
    '',
    '| run | model ready (ms) | first step image (ms) | first step after Generate (ms) | step | shard requests |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.run} | ${f(r.readyMs)} | ${f(r.firstImageMs)} | ${f(r.firstStepMs)} | ${r.firstImageStep} | ${r.shardRequests} |`,
    ),
    '',
    warm.length ? `warm median: ${f(median(warm))} ms to the first image (target < 2000 ms on a desktop GPU)` : '',
  ];
  console.log(lines.join('\n'));
  const json = arg('--json', '');
  if (json) writeFileSync(json, JSON.stringify({ rows }, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
