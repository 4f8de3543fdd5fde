// The plan of bench/latency.ts, kept pure for tests/latency_plan.test.ts: the fusion variants named in FUSIONS, the
// rotated order of an interleaved round, and median / min of a set of runs.
import { allFusions, defaultFusions, FUSION_NAMES, noFusions, type Fusions } from '../src/model/fusions';

export interface Variant {
  name: string;
  fusions: Fusions;
}

/** 'default' (what the models run), 'all', 'none', '-NAME' (all fusions but NAME), '+NAME' (only NAME),
 *  'default+NAME' / 'default-NAME' (the models' set with NAME on / off), comma-separated; unknown names throw. */
export function parseVariants(spec: string): Variant[] {
  const names = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!names.length) throw new Error('FUSIONS names no variant');
  return names.map((name) => {
    if (name === 'default') return { name, fusions: defaultFusions() };
    if (name === 'all') return { name, fusions: allFusions() };
    if (name === 'none') return { name, fusions: noFusions() };
    const base = name.startsWith('default') ? 'default' : '';
    const sign = name[base.length];
    const key = name.slice(base.length + 1) as (typeof FUSION_NAMES)[number];
    if ((sign !== '-' && sign !== '+') || !FUSION_NAMES.includes(key))
      throw new Error(
        `FUSIONS: '${name}' is not default, all, none, -NAME, +NAME, default-NAME or default+NAME with NAME in ` +
          FUSION_NAMES.join(', '),
      );
    const fusions = base ? defaultFusions() : sign === '-' ? allFusions() : noFusions();
    fusions[key] = sign === '+';
    return { name, fusions };
  });
}

/** Indices 0..n−1 starting at round mod n: each variant takes every position equally often over n rounds. */
export function rotate(n: number, round: number): number[] {
  return Array.from({ length: n }, (_, i) => (i + round) % n);
}

export interface Stats {
  median: number;
  min: number;
  n: number;
}

/** Median (the mean of the middle two for an even count) and min; NaN for no runs. */
export function stats(xs: readonly number[]): Stats {
  if (!xs.length) return { median: NaN, min: NaN, n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2, min: s[0]!, n: s.length };
}
