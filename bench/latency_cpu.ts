// Parts 4 and 5 of bench/latency.ts (issue 18): where the CPU time of a generation step goes, and what one batched
// step costs on the GPU.
//   4. CPU per step: S-step guided generations of the default generator through TextToImage.generate (every step's
//      preview read back: previewEveryMs 0; bench/latency.ts part 6 has the app's pacing) with the lookaheads of
//      LOOKAHEADS interleaved; per step (median over every step of every run): recording the forward, the sampling
//      and the preview, submitting (finish + queue.submit: Dawn encodes the backend's commands there), waiting for
//      the readback, reporting (unpack + onStep); the dispatch cache's bind groups and uniform buffers made per step
//      (src/engine/dispatch_cache.ts).
//   5. one timestamp-profiled guided step at batch 1 and batch B (2B-row forward + sampling + the B-image preview, as
//      variations record it): CPU recording, wall to GPU idle, kernel families, and the largest dispatch labels.
import type { Engine } from '../src/engine/engine';
import { DEFAULT_LOOKAHEAD, type StepCpuBreakdown, type TextToImage } from '../src/model/pipeline';
import { MaskGitRun } from '../src/model/sampler';
import { rotate, stats } from './latency_plan';
import { plainStep, profiledStep, summariseStep, type DispatchRecord, type TimingSource } from './step_profiler';

/** Lookaheads compared by part 4 (TextToImage.lookahead): 0 awaits every step before recording the next. */
export const LOOKAHEADS = [0, 1, 2] as const;
const PARTS: ReadonlyArray<keyof StepCpuBreakdown> = [
  'forwardMs',
  'samplingMs',
  'previewMs',
  'submitMs',
  'waitMs',
  'reportMs',
];

const f = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const now = () => performance.now();

export interface PartContext {
  e: Engine;
  pipe: TextToImage;
  id: string;
  prompt: string;
  steps: number;
  runs: number;
  /** performance.now() after which no new round starts (at least 2 rounds run). */
  end: number;
  print: (lines: string[]) => void;
}

/** Part 4. Returns the JSON record. */
export async function cpuPerStep(c: PartContext): Promise<Record<string, unknown>> {
  const { e, pipe, steps } = c;
  const start = now();
  const n = LOOKAHEADS.length;
  const totals = LOOKAHEADS.map(() => [] as number[]);
  const perStep = LOOKAHEADS.map(() => Object.fromEntries(PARTS.map((p) => [p, [] as number[]])));
  const busy = LOOKAHEADS.map(() => [] as number[]);
  const made = LOOKAHEADS.map(() => ({ bindGroups: 0, uniforms: 0, dispatches: 0, steps: 0 }));
  const generation = async (v: number, seed: number, record: boolean) => {
    pipe.lookahead = LOOKAHEADS[v]!;
    const s0 = { ...e.dispatchCache.stats };
    const d0 = e.dispatchCount;
    const res = await pipe.generate({ prompt: c.prompt, seed, steps, guidance: 4, previewEveryMs: 0 });
    if (!record) return;
    totals[v]!.push(res.timings.totalMs);
    for (const step of res.timings.cpu) {
      for (const p of PARTS) perStep[v]![p]!.push(step[p]);
      busy[v]!.push(step.forwardMs + step.samplingMs + step.previewMs + step.submitMs + step.reportMs);
    }
    const m = made[v]!;
    m.bindGroups += e.dispatchCache.stats.bindGroupMisses - s0.bindGroupMisses;
    m.uniforms += e.dispatchCache.stats.uniformMisses - s0.uniformMisses;
    m.dispatches += e.dispatchCount - d0;
    m.steps += steps;
  };
  try {
    for (let v = 0; v < n; v++) await generation(v, 0, false); // warm-up
    let rounds = 0;
    while (rounds < c.runs && (rounds < 2 || now() < c.end)) {
      for (const v of rotate(n, rounds)) await generation(v, rounds + 1, true);
      rounds++;
    }
    const med = (xs: number[]) => stats(xs).median;
    c.print([
      `## 4. CPU per step: ${c.id}, ${steps}-step guided generation (TextToImage.generate, every step's preview read back), ` +
        `lookahead ${LOOKAHEADS.join(' / ')} interleaved, ${rounds} rounds`,
      '',
      'Lookahead = steps submitted before the oldest readback is awaited (the app: ' +
        `${DEFAULT_LOOKAHEAD}). Per step, ms, median over every step of every run: recording (JS + WebGPU calls) the ` +
        'forward, the sampling and the preview; submit = finish + queue.submit of the step (Dawn encodes the ' +
        "backend's commands there); wait = awaiting the step's readback; report = unpacking it (no onStep here); " +
        'CPU = all but wait. Made / step: bind groups and uniform buffers the dispatch cache had to create.',
      '',
      '| lookahead | ms, median | min | per step | forward | sampling | preview | submit | wait | report | CPU | ' +
        'dispatches / step | bind groups made / step | uniforms made / step |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...LOOKAHEADS.map((L, v) => {
        const st = stats(totals[v]!);
        const m = made[v]!;
        return (
          `| ${L} | ${f(st.median, 1)} | ${f(st.min, 1)} | ${f(st.median / steps)} | ` +
          PARTS.map((p) => f(med(perStep[v]![p]!), 3)).join(' | ') +
          ` | ${f(med(busy[v]!), 3)} | ${f(m.dispatches / m.steps, 1)} | ${f(m.bindGroups / m.steps, 2)} | ` +
          `${f(m.uniforms / m.steps, 2)} |`
        );
      }),
      '',
    ]);
    return {
      rounds,
      variants: LOOKAHEADS.map((L, v) => ({
        lookahead: L,
        ms: stats(totals[v]!),
        runs: totals[v],
        perStepMedianMs: Object.fromEntries(PARTS.map((p) => [p, med(perStep[v]![p]!)])),
        cpuMedianMs: med(busy[v]!),
        madePerStep: {
          bindGroups: made[v]!.bindGroups / made[v]!.steps,
          uniforms: made[v]!.uniforms / made[v]!.steps,
          dispatches: made[v]!.dispatches / made[v]!.steps,
        },
      })),
      seconds: (now() - start) / 1000,
    };
  } finally {
    pipe.lookahead = DEFAULT_LOOKAHEAD;
  }
}

/** The dispatch labels of a step's records by total time, largest first (forward + sampling only). */
function largestLabels(records: readonly DispatchRecord[], count: number) {
  const by = new Map<string, { label: string; dispatches: number; ms: number }>();
  for (const r of records) {
    if (r.segment !== 'step') continue;
    const x = by.get(r.label) ?? { label: r.label, dispatches: 0, ms: 0 };
    x.dispatches++;
    x.ms += r.ms;
    by.set(r.label, x);
  }
  return [...by.values()].sort((a, b) => b.ms - a.ms).slice(0, count);
}

/** Part 5: one profiled guided step (its third: pipelines compiled, the pool filled) at each batch of `batches`. */
export async function batchedStepProfile(
  c: PartContext,
  batches: number[],
  source: TimingSource,
): Promise<Record<string, unknown>> {
  const { e, pipe } = c;
  const start = now();
  const Lt = pipe.generator.config.text.max_len;
  const row = (ids: ArrayLike<number>) => Array.from({ length: Lt }, (_, i) => ids[i] ?? 0);
  const [cond, uncond] = [row(pipe.tokenizer.encode(c.prompt)), row(pipe.tokenizer.encode(''))];
  const rows: string[] = [];
  const labelRows: string[] = [];
  const results: Record<string, unknown>[] = [];
  for (const B of batches) {
    const run = new MaskGitRun(e, pipe.generator, {
      ids: Array.from({ length: B }, () => cond).flat(),
      uncondIds: Array.from({ length: B }, () => uncond).flat(),
      batch: B,
      steps: 3,
      guidance: 4,
      tau: 1,
      temperature: 1,
      seed: 1,
    });
    try {
      await plainStep(e, run, pipe.decoder); //                     compiles what this batch needs
      const plain = await plainStep(e, run, pipe.decoder);
      const { records } = await profiledStep(e, run, pipe.decoder, source);
      const s = summariseStep(records, source);
      const stepMs = records.filter((r) => r.segment === 'step').reduce((a, r) => a + r.ms, 0);
      const top = largestLabels(records, 8);
      rows.push(
        `| ${B} | ${2 * B} | ${s.dispatches.step} + ${s.dispatches.preview} | ${f(plain.recordMs, 3)} | ` +
          `${f(plain.wallMs, 3)} | ${f(stepMs, 3)} | ${f(s.busyMs - stepMs, 3)} | ${f(s.spanMs, 3)} | ` +
          s.families.map((x) => `${x.family} ${x.dispatches}× ${f(x.ms, 3)}`).join('; ') +
          ' |',
      );
      labelRows.push(`| ${B} | ${top.map((x) => `${x.label} ${x.dispatches}× ${f(x.ms, 3)}`).join('; ')} |`);
      results.push({ batch: B, plain, summary: s, largest: top });
    } finally {
      run.dispose();
    }
  }
  c.print([
    `## 5. One guided step by batch (${source}; ${c.id}, step 3 of a fresh run; 2B-row forward + sampling, then the ` +
      'B-image preview decode, as variations record it)',
    '',
    'CPU record = recording the step (with its submit) and its preview (plain step 2); wall = from the start of ' +
      'recording until the GPU is idle (plain step 2); forward + sampling and preview = Σ of their dispatches in ' +
      'the profiled step; span = first dispatch start to last end (one pass per dispatch).',
    '',
    '| batch B | rows | dispatches (step + preview) | CPU record ms | wall ms | forward + sampling ms | preview ms | ' +
      'span ms | families: dispatches × ms |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    '',
    'Largest dispatch labels of the forward + sampling, by total ms:',
    '',
    '| batch B | label dispatches × ms |',
    '| ---: | --- |',
    ...labelRows,
    '',
  ]);
  return { batches: results, seconds: (now() - start) / 1000 };
}
