// The generator that the browser tests of the page's machinery (rendering every step, repairing a damaged shard,
// device-loss recovery, switching models) load as the page's default, and what they know about the shipped models.
//
// E2E_GENERATOR picks it:
//   unset             the shipped default (public/models/index.json `defaultGenerator`), unless that is bigger than
//                     MACHINERY_GENERATOR (index.json `bytes`): then MACHINERY_GENERATOR, so that CI's generation
//                     steps keep their cost when a bigger model becomes the default.
//   E2E_GENERATOR=    (empty) the shipped default, always: every spec on the real default.
//   E2E_GENERATOR=id  that shipped generator.
// When it is not the shipped default, the specs that call `serveE2EGenerator(context)` before their first `page.goto`
// see index.json with it as `defaultGenerator` (every other file is served as shipped; Playwright's context routes
// cover the page, its workers and the service worker in Chromium), and app.spec's "the shipped default generates"
// runs one step on the real default. playwright.config.ts prints the choice (`describeE2EGenerator`) at every run.
// docs/shipping.md "How the tests follow the default".
import { readFileSync } from 'node:fs';
import type { BrowserContext } from '@playwright/test';

export interface ModelIndex {
  models: Array<{ id: string; kind: string; bytes: number; sampling?: Record<string, number> }>;
  defaultGenerator: string;
  tokenizer: string;
}
const MODELS = new URL('../public/models/', import.meta.url);
const readIndex = () => JSON.parse(readFileSync(new URL('index.json', MODELS), 'utf8')) as ModelIndex;

/** The generator the machinery specs use when the shipped default is bigger: one shard, 9.9 MB. */
export const MACHINERY_GENERATOR = 'mmamba-v2';
/** The shipped default generator (public/models/index.json). */
export const SHIPPED_DEFAULT = readIndex().defaultGenerator;
/** Every shipped model's id (generators and the VQ), in index.json's order. */
export const SHIPPED_IDS = readIndex().models.map((m) => m.id);

function pick(): string {
  const env = process.env.E2E_GENERATOR;
  if (env !== undefined) return env || SHIPPED_DEFAULT;
  const bytes = (id: string) => readIndex().models.find((m) => m.id === id)?.bytes;
  const own = bytes(SHIPPED_DEFAULT);
  const small = bytes(MACHINERY_GENERATOR);
  return own !== undefined && small !== undefined && own > small ? MACHINERY_GENERATOR : SHIPPED_DEFAULT;
}
/** The generator the machinery specs see as the page's default (see the top of this file). */
export const E2E_GENERATOR = pick();

/** Throws unless E2E_GENERATOR is a shipped generator (not the VQ, not an unknown id). */
export function checkE2EGenerator(): void {
  const entry = readIndex().models.find((m) => m.id === E2E_GENERATOR);
  if (!entry || entry.kind === 'vq')
    throw new Error(`E2E_GENERATOR=${E2E_GENERATOR} is not a generator of public/models/index.json`);
}

/** One line for the run's log: which generator the machinery specs use and why, and what runs on the default. */
export function describeE2EGenerator(): string {
  const mb = (id: string) => `${((readIndex().models.find((m) => m.id === id)?.bytes ?? 0) / 1e6).toFixed(1)} MB`;
  const why =
    process.env.E2E_GENERATOR === undefined
      ? E2E_GENERATOR === SHIPPED_DEFAULT
        ? `E2E_GENERATOR unset, the default is not bigger than ${MACHINERY_GENERATOR}`
        : 'E2E_GENERATOR unset and the default is bigger'
      : `E2E_GENERATOR=${process.env.E2E_GENERATOR}`;
  if (E2E_GENERATOR === SHIPPED_DEFAULT)
    return `e2e generator: ${SHIPPED_DEFAULT} (${mb(SHIPPED_DEFAULT)}), the shipped default, for every spec (${why})`;
  return (
    `e2e generator: the machinery specs (app.spec "generation", device_loss, model_picker) generate with ` +
    `${E2E_GENERATOR} (${mb(E2E_GENERATOR)}) (${why}); the shipped default ${SHIPPED_DEFAULT} ` +
    `(${mb(SHIPPED_DEFAULT)}) is loaded by app.spec's loading tests, offline, shell and first_run, and generates ` +
    'one step in app.spec "the shipped default generates"; E2E_GENERATOR= runs everything on it'
  );
}

/** The shard paths (`/models/<id>/<file>`) a first visit requests for `id`, from its manifest. */
export function shardPaths(id: string = E2E_GENERATOR): string[] {
  const m = JSON.parse(readFileSync(new URL(`${id}/manifest.json`, MODELS), 'utf8')) as { shards: { file: string }[] };
  return m.shards.map((s) => `/models/${id}/${s.file}`);
}

/** Serves index.json with E2E_GENERATOR as the default, changed further by `edit` when given; does nothing when
 *  E2E_GENERATOR is the shipped default and there is no edit. */
export async function serveE2EGenerator(
  context: BrowserContext,
  edit?: (index: ModelIndex) => ModelIndex,
): Promise<void> {
  if (E2E_GENERATOR === SHIPPED_DEFAULT && !edit) return;
  if (E2E_GENERATOR !== SHIPPED_DEFAULT) checkE2EGenerator();
  const index = () => ({ ...readIndex(), defaultGenerator: E2E_GENERATOR });
  await context.route(/\/models\/index\.json(\?.*)?$/, (route) =>
    route.fulfill({ status: 200, json: edit ? edit(index()) : index() }),
  );
}
