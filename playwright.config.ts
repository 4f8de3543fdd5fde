// Playwright e2e config: headless Debian Chromium (never a downloaded browser) with WebGPU on SwiftShader,
// against a Vite dev server on a fixed port of 127.0.0.1 (WebGPU needs a secure context: localhost counts).
// The generator of the machinery specs is chosen in e2e/e2e_generator.ts (E2E_GENERATOR; unset: the shipped default
// unless it is bigger than mmamba-v2); the choice is checked and printed once per run here.
import { defineConfig, devices } from '@playwright/test';
import { checkE2EGenerator, describeE2EGenerator } from './e2e/e2e_generator';

checkE2EGenerator();
if (process.env.TEST_WORKER_INDEX === undefined) console.log(describeE2EGenerator());

const PORT = Number(process.env.E2E_PORT ?? 5199);
const BASE_URL = `http://127.0.0.1:${PORT}`;

export default defineConfig({
  testDir: 'e2e',
  // Software rendering on 2 shared cores: one test at a time, generous timeouts, one retry in CI only.
  workers: 1,
  fullyParallel: false,
  timeout: 90_000,
  expect: { timeout: 30_000 },
  retries: process.env.CI ? 1 : 0,
  forbidOnly: !!process.env.CI,
  outputDir: 'test-results/e2e',
  reporter: [['list'], ['json', { outputFile: 'playwright-report/results.json' }]],
  use: {
    baseURL: BASE_URL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  webServer: {
    command: `npx vite --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: BASE_URL,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          args: [
            '--enable-unsafe-webgpu',
            '--enable-features=Vulkan',
            '--use-angle=swiftshader',
            '--use-vulkan=swiftshader',
            '--disable-vulkan-surface',
            '--no-sandbox',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--disable-quic',
            '--no-first-run',
          ],
        },
      },
    },
  ],
});
