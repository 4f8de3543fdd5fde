// The one home of random test seeds: every test that draws random inputs takes its seed from freshSeed(), which is
// deterministic (same seeds on every run) and replayable with MM_TEST_SEED. Importing it (directly or through
// tests/gpu.ts) registers an afterEach that prints the base, and how to replay it, beside every failing test.
import { afterEach } from 'vitest';

/** Base of every test seed: MM_TEST_SEED from the environment (a u32, to replay or explore), else a fixed value, so
 *  every run draws the same inputs. The afterEach below prints it beside any failing test. */
export const TEST_SEED_BASE: number = (() => {
  const raw = process.env.MM_TEST_SEED;
  if (raw === undefined || raw === '') return 0x5eed2026;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new Error(`MM_TEST_SEED must be a u32, got ${JSON.stringify(raw)}`);
  return v;
})();
let seedsDrawn = 0;

/** The next seed of this test file: a hash of (TEST_SEED_BASE, how many seeds the file drew before), so a file's
 *  seeds are the same on every run with the same base (files run in their own processes, in file order). Tests put
 *  the seed in their name or message; the base is printed on failure. Never Math.random: a failure must replay. */
export function freshSeed(): number {
  let h = Math.imul((TEST_SEED_BASE ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ Math.imul(++seedsDrawn, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return (h >>> 1) >>> 0; // < 2^31, like the seeds the tests always took
}

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail')
    console.error(
      `[seeds] "${ctx.task.name}" failed with MM_TEST_SEED=${TEST_SEED_BASE} (replay: MM_TEST_SEED=${TEST_SEED_BASE} npx vitest run ${ctx.task.file?.name ?? ''})`,
    );
});
