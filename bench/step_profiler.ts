// Per-step profile of guided generation (issue 18, item 1): what one MaskGIT step costs on the GPU, dispatch by
// dispatch. One step = the generator forward + Gumbel-max sampling + confidence re-mask (MaskGitRun.step) and the
// per-step preview (VQ decode packed with the grid, VQDecoder.preview), as TextToImage records it.
// Two timing sources:
//   'gpu-timestamps' (adapter has timestamp-query): the engine's profiler, one compute pass per dispatch with
//     begin/end timestamps; a dispatch's time is end − begin, an idle gap is the time between one pass's end and the
//     next one's begin (pass boundaries, the buffer copies of the guided grid, queue waits).
//   'cpu-submit' (no timestamp-query, or forced): every dispatch is submitted as its own command buffer and a
//     dispatch's time is the CPU-side interval between the completion callbacks of its submission and the previous
//     one. It includes submission and callback latency, and while the step is still being recorded the callbacks
//     cannot run, so early intervals read short and later ones long: a coarse attribution, not kernel times.
//     No idle time can be separated (gaps are 0 by construction).
// The accounting (summariseStep) is a pure function: Σ family times = busy, busy + idle = span, Σ family dispatches
// = dispatches; the VQ preview decode is also split by dispatch label (previewByLabel: Σ = the family's total); tests/profile_step.test.ts checks it and the dispatch counts against the engine's own counter.
import type { Engine } from '../src/engine/engine';
import type { Generator } from '../src/model/generator';
import { MaskGitRun } from '../src/model/sampler';
import type { VQDecoder } from '../src/model/vq_decoder';

export type TimingSource = 'gpu-timestamps' | 'cpu-submit';
/** Which part of the step recorded a dispatch: the MaskGIT step (forward + sampling) or the preview decode. */
export type Segment = 'step' | 'preview';

export interface DispatchRecord {
  label: string;
  segment: Segment;
  ms: number;
  /** Start, ms after the step's first dispatch started. */
  startMs: number;
}

/** Kernel families by dispatch label (first match wins); preview dispatches are one family, 'VQ preview decode'. */
export const KERNEL_FAMILIES: ReadonlyArray<readonly [string, RegExp]> = [
  ['selective scan', /selective_scan/],
  ['conv1d + cross-scan', /conv1d|cross_scan|cross_merge/],
  ['matmul / linear', /proj|linear|matmul|logits|adaln|qkv|attn|ffn/],
  ['norm (+ modulation)', /norm/i],
  ['elementwise (SiLU, mul, add, gated residual)', /silu|^mul$|^add$|gated_residual|geglu|softplus|gelu/],
  ['row / column glue (embedding, slices, concat)', /embedding|slice|concat/],
  ['sampling (Gumbel-max, re-mask)', /gumbel|maskgit/],
];
export const PREVIEW_FAMILY = 'VQ preview decode';

export function kernelFamily(label: string, segment: Segment): string {
  if (segment === 'preview') return PREVIEW_FAMILY;
  for (const [family, re] of KERNEL_FAMILIES) if (re.test(label)) return family;
  return 'other';
}

export interface FamilyTime {
  family: string;
  dispatches: number;
  ms: number;
  /** Distinct dispatch labels in the family, in first-seen order. */
  labels: string[];
}

/** One dispatch label's total (count and GPU time) within a segment. */
export interface LabelTime {
  label: string;
  dispatches: number;
  ms: number;
}

export interface StepSummary {
  source: TimingSource;
  dispatches: { step: number; preview: number; total: number };
  /** Σ dispatch times (= Σ family times). */
  busyMs: number;
  /** First dispatch's start to the last dispatch's end. */
  spanMs: number;
  /** span − busy: time between dispatches. */
  idleMs: number;
  /** The largest single gap between two consecutive dispatches, with the label of the dispatch after it. */
  largestGap: { ms: number; before: string };
  /** By time, largest first. */
  families: FamilyTime[];
  /** Inside the VQ preview decode family, by dispatch label (conv labels carry the output's shape), largest first. */
  previewByLabel: LabelTime[];
}

/** The preview segment's dispatches summed per label, by time, largest first (ties: first seen first). */
export function previewByLabel(records: readonly DispatchRecord[]): LabelTime[] {
  const m = new Map<string, LabelTime>();
  for (const r of records) {
    if (r.segment !== 'preview') continue;
    const t = m.get(r.label) ?? { label: r.label, dispatches: 0, ms: 0 };
    t.dispatches++;
    t.ms += r.ms;
    m.set(r.label, t);
  }
  return [...m.values()].sort((a, b) => b.ms - a.ms);
}

/** The accounting of one profiled step (pure). Records must be in dispatch order. */
export function summariseStep(records: readonly DispatchRecord[], source: TimingSource): StepSummary {
  const families = new Map<string, FamilyTime>();
  let busy = 0;
  let end = 0;
  let largestGap = { ms: 0, before: '' };
  let prevEnd = 0;
  records.forEach((r, i) => {
    busy += r.ms;
    end = Math.max(end, r.startMs + r.ms);
    if (i > 0 && r.startMs - prevEnd > largestGap.ms) largestGap = { ms: r.startMs - prevEnd, before: r.label };
    prevEnd = r.startMs + r.ms;
    const name = kernelFamily(r.label, r.segment);
    const f = families.get(name) ?? { family: name, dispatches: 0, ms: 0, labels: [] };
    f.dispatches++;
    f.ms += r.ms;
    if (!f.labels.includes(r.label)) f.labels.push(r.label);
    families.set(name, f);
  });
  const start = records.length ? records[0]!.startMs : 0;
  const span = end - start;
  const step = records.filter((r) => r.segment === 'step').length;
  return {
    source,
    dispatches: { step, preview: records.length - step, total: records.length },
    busyMs: busy,
    spanMs: span,
    idleMs: Math.max(0, span - busy),
    largestGap,
    families: [...families.values()].sort((a, b) => b.ms - a.ms),
    previewByLabel: previewByLabel(records),
  };
}

/** The parts of one generation that a profiled step runs. */
export interface ProfileTarget {
  generator: Generator;
  decoder: VQDecoder;
  /** (rows, Lt) text ids: the prompt, then the empty prompt (guided). */
  ids: Int32Array;
  uncondIds: Int32Array;
  guidance: number;
  steps: number;
  seed: number;
}

const now = () => performance.now();

/** Starts a MaskGIT run of one image (batch 2 forwards when guided), as TextToImage does. */
export function startRun(e: Engine, t: ProfileTarget): MaskGitRun {
  return new MaskGitRun(e, t.generator, {
    ids: t.ids,
    uncondIds: t.uncondIds,
    batch: 1,
    steps: t.steps,
    guidance: t.guidance,
    tau: 1,
    temperature: 1,
    seed: t.seed,
  });
}

/** One plain (unprofiled) step: CPU recording time, the step's wall time to GPU idle, then the preview readback. */
export interface PlainStep {
  dispatches: number;
  recordMs: number;
  /** From the start of recording until the GPU has finished the step and its preview. */
  wallMs: number;
  /** Copy of the packed preview to a staging buffer and its map, after the GPU went idle. */
  readbackMs: number;
  readBytes: number;
}

export async function plainStep(e: Engine, run: MaskGitRun, decoder: VQDecoder): Promise<PlainStep> {
  await e.sync();
  const d0 = e.dispatchCount;
  const t0 = now();
  run.step();
  const packed = decoder.preview(run.tokens);
  const t1 = now();
  await e.sync();
  const t2 = now();
  await e.read(packed);
  const t3 = now();
  const bytes = packed.byteLength;
  packed.dispose();
  return {
    dispatches: e.dispatchCount - d0,
    recordMs: t1 - t0,
    wallMs: t2 - t0,
    readbackMs: t3 - t2,
    readBytes: bytes,
  };
}

/** One profiled step: every dispatch of the step and its preview with its time, in order, and the engine's own
 *  dispatch count over the same span (equal to records.length unless a dispatch escaped the accounting). */
export async function profiledStep(
  e: Engine,
  run: MaskGitRun,
  decoder: VQDecoder,
  source: TimingSource,
): Promise<{ records: DispatchRecord[]; engineDispatches: number }> {
  await e.sync();
  const d0 = e.dispatchCount;
  const segments: Segment[] = [];
  let segment: Segment = 'step';
  if (source === 'gpu-timestamps') {
    e.onDispatch = () => segments.push(segment);
    e.beginProfiling(2048); // 4096 timestamps: the WebGPU maximum query count
    let timings: Awaited<ReturnType<Engine['endProfiling']>>;
    try {
      run.step();
      segment = 'preview';
      decoder.preview(run.tokens).dispose();
    } finally {
      e.onDispatch = null;
      timings = await e.endProfiling();
    }
    const records = timings.map((t, i) => ({ label: t.label, segment: segments[i]!, ms: t.ms, startMs: t.startMs }));
    return { records, engineDispatches: e.dispatchCount - d0 };
  }
  // cpu-submit: one submission per dispatch, each followed by a completion callback stamped with the CPU clock.
  const pending: Array<{ label: string; segment: Segment; done: Promise<number> }> = [];
  const t0 = now();
  e.onDispatch = (label) => {
    e.flush();
    pending.push({ label, segment, done: e.device.queue.onSubmittedWorkDone().then(now) });
  };
  try {
    run.step();
    segment = 'preview';
    decoder.preview(run.tokens).dispose();
  } finally {
    e.onDispatch = null;
  }
  const done = await Promise.all(pending.map((p) => p.done));
  let prev = t0;
  const records = pending.map((p, i) => {
    const r = { label: p.label, segment: p.segment, ms: done[i]! - prev, startMs: prev - t0 };
    prev = done[i]!;
    return r;
  });
  return { records, engineDispatches: e.dispatchCount - d0 };
}
