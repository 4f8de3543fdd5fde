// The generator that the browser tests on the shipped models load as the page's default. By default that is the
// shipped default (public/models/index.json `defaultGenerator`) and nothing is routed. E2E_GENERATOR=<a shipped
// generator id> (e.g. a smaller one than the default, for tests that check the page's machinery rather than the
// default model's images) serves index.json with that id as `defaultGenerator`; every other file is served as
// shipped. The route covers the page, its workers and the service worker (Playwright routes service-worker requests
// in Chromium). Plan and adoption: docs/shipping.md "CI time and the test-only generator".
import { readFileSync } from 'node:fs';
import type { BrowserContext } from '@playwright/test';

interface ModelIndex {
  models: Array<{ id: string; kind: string }>;
  defaultGenerator: string;
  tokenizer: string;
}
const MODELS = new URL('../public/models/', import.meta.url);
const readIndex = () => JSON.parse(readFileSync(new URL('index.json', MODELS), 'utf8')) as ModelIndex;

/** The shipped default generator (public/models/index.json). */
export const SHIPPED_DEFAULT = readIndex().defaultGenerator;
/** The generator these tests see as the page's default: E2E_GENERATOR, or the shipped default. */
export const E2E_GENERATOR = process.env.E2E_GENERATOR || SHIPPED_DEFAULT;

/** The shard paths (`/models/<id>/<file>`) a first visit requests for `id`, from its manifest. */
export function shardPaths(id: string = E2E_GENERATOR): string[] {
  const m = JSON.parse(readFileSync(new URL(`${id}/manifest.json`, MODELS), 'utf8')) as { shards: { file: string }[] };
  return m.shards.map((s) => `/models/${id}/${s.file}`);
}

/** Serves index.json with E2E_GENERATOR as the default; does nothing when that is the shipped default. */
export async function serveE2EGenerator(context: BrowserContext): Promise<void> {
  if (E2E_GENERATOR === SHIPPED_DEFAULT) return;
  const entry = readIndex().models.find((m) => m.id === E2E_GENERATOR);
  if (!entry || entry.kind === 'vq')
    throw new Error(`E2E_GENERATOR=${E2E_GENERATOR} is not a generator of public/models/index.json`);
  await context.route(/\/models\/index\.json(\?.*)?$/, (route) =>
    route.fulfill({ status: 200, json: { ...readIndex(), defaultGenerator: E2E_GENERATOR } }),
  );
}
