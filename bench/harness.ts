// Timing harness for the GPU benchmarks: runs a recorded piece of engine work (one kernel or a whole layer)
// repeatedly under the engine's timestamp-query profiler (engine.beginProfiling/endProfiling: one compute pass
// per dispatch, begin/end timestamps), and reduces the samples to medians. Falls back to wall-clock time around
// queue completion when the device has no timestamp-query (then times include submission overhead).
import type { Engine, KernelTiming } from '../src/engine/engine';
import type { Tensor } from '../src/engine/tensor';

/** Anything a piece of work returns: tensors (disposed after each rep), arrays or records of them. */
// biome-ignore lint/suspicious/noConfusingVoidType: work callbacks may also return nothing at all
export type Produced = Tensor | Produced[] | { [k: string]: Produced } | null | undefined | void;

export interface TimingOptions {
  warmup: number;
  reps: number;
}

export interface Timing {
  /** Median over reps of the summed per-dispatch GPU time of one rep (µs). */
  medianUs: number;
  minUs: number;
  /** Dispatches per rep. */
  dispatches: number;
  /** Median time of each dispatch of a rep, in recording order (µs), with its label. */
  perDispatch: { label: string; us: number }[];
  source: 'timestamp' | 'wall';
}

export function disposeAll(p: Produced): void {
  if (!p) return;
  if (Array.isArray(p)) {
    for (const q of p) disposeAll(q);
    return;
  }
  if (typeof (p as Tensor).dispose === 'function' && 'buffer' in p) {
    (p as Tensor).dispose();
    return;
  }
  for (const q of Object.values(p as Record<string, Produced>)) disposeAll(q);
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Times `work` (which records dispatches into the engine and returns what it allocated). */
export async function timeWork(e: Engine, work: () => Produced, o: TimingOptions): Promise<Timing> {
  // warm-up: compiles pipelines, grows the buffer pool to its steady state
  for (let i = 0; i < o.warmup; i++) disposeAll(work());
  await e.sync();

  if (!e.ctx.hasTimestamps) return timeWall(e, work, o);

  const before = e.dispatchCount;
  disposeAll(work()); // count the dispatches of one rep
  await e.sync();
  const perRep = e.dispatchCount - before;
  if (perRep === 0) throw new Error('benchmarked work recorded no dispatches');

  const totals: number[] = [];
  const each: number[][] = Array.from({ length: perRep }, () => []);
  let labels: string[] = [];
  // one profiling session per rep keeps every rep's dispatches in their own command buffer
  for (let r = 0; r < o.reps; r++) {
    e.beginProfiling(perRep + 1);
    disposeAll(work());
    const t: KernelTiming[] = await e.endProfiling();
    if (t.length !== perRep) throw new Error(`work recorded ${t.length} dispatches, expected ${perRep}`);
    labels = t.map((x) => x.label);
    totals.push(t.reduce((s, x) => s + x.ms, 0) * 1e3);
    t.forEach((x, i) => {
      each[i]!.push(x.ms * 1e3);
    });
  }
  return {
    medianUs: median(totals),
    minUs: Math.min(...totals),
    dispatches: perRep,
    perDispatch: each.map((xs, i) => ({ label: labels[i] ?? '?', us: median(xs) })),
    source: 'timestamp',
  };
}

async function timeWall(e: Engine, work: () => Produced, o: TimingOptions): Promise<Timing> {
  const before = e.dispatchCount;
  const totals: number[] = [];
  for (let r = 0; r < o.reps; r++) {
    const t0 = performance.now();
    disposeAll(work());
    await e.sync();
    totals.push((performance.now() - t0) * 1e3);
  }
  const perRep = Math.round((e.dispatchCount - before) / o.reps);
  return { medianUs: median(totals), minUs: Math.min(...totals), dispatches: perRep, perDispatch: [], source: 'wall' };
}

/**
 * True end-to-end GPU time of `work` recorded back to back in ONE compute pass (no per-dispatch passes), measured
 * by timestamps on two marker passes around it in the same command buffer. Uses the engine's encoder through its
 * (TypeScript-private) internals: the public API only profiles per dispatch. Returns µs per rep (median over
 * `samples` command buffers of `reps` reps each), or NaN without timestamp-query.
 */
export async function timeBackToBack(e: Engine, work: () => Produced, reps: number, samples: number): Promise<number> {
  if (!e.ctx.hasTimestamps) return NaN;
  const internals = e as unknown as { getEncoder(): GPUCommandEncoder; endPass(): void };
  const qs = e.device.createQuerySet({ type: 'timestamp', count: 2 });
  const resolve = e.device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const out: number[] = [];
  for (let s = 0; s < samples; s++) {
    const staging = e.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    e.flush();
    internals
      .getEncoder()
      .beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0 } })
      .end();
    for (let r = 0; r < reps; r++) disposeAll(work());
    internals.endPass();
    const enc = internals.getEncoder();
    enc.beginComputePass({ timestampWrites: { querySet: qs, endOfPassWriteIndex: 1 } }).end();
    enc.resolveQuerySet(qs, 0, 2, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, 16);
    e.flush();
    await staging.mapAsync(GPUMapMode.READ);
    const ts = new BigInt64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    out.push(Number(ts[1]! - ts[0]!) / 1e3 / reps);
  }
  qs.destroy();
  resolve.destroy();
  return median(out);
}
