// The fine-tuning panel's time estimate before Start, DOM-free. A run is training steps (the word steps and the
// LoRA steps cost about the same: each is a forward and a backward of the generator at the batch size) plus
// renders (a guided image of `previewSteps` MaskGIT steps: the drift guard's base renders before the run, its
// checks during and after it, the previews). Two measured speeds of this device feed it, best first:
// - a fine-tuning run's own steps per second on this model (remembered after each run, at its batch size; a step's
//   time is taken as proportional to the batch);
// - a generation's time per step on this model (one guided batch-2 forward): a training step is about
//   TRAIN_STEP_PER_GEN_STEP_PER_ITEM × batch of it (the H200 measurements in docs/benchmarks.md: 117.4 ms per
//   training step at batch 8 against 10.64 ms per batch-2 forward, so 117.4 / 10.64 / 8 ≈ 1.38).
// With neither there is no estimate (the panel says how to get one). Renders are timed from the generation speed,
// or derived from the training speed with the same ratio.
import { formatDuration } from './finetune_speed';

export const TRAIN_STEP_PER_GEN_STEP_PER_ITEM = 117.4 / 10.64 / 8;

/** A fine-tuning run's measured speed: seconds per step at `batch`. */
export interface MeasuredTrainRate {
  secPerStep: number;
  batch: number;
}

/** What a run will do (the panel's settings). */
export interface RunPlan {
  /** LoRA steps. */
  steps: number;
  /** Word (textual inversion) steps before them. */
  inversionSteps: number;
  batch: number;
  /** A preview every K LoRA steps; 0: only at the end. */
  previewEvery: number;
  /** A drift check every K steps; 0: only after the run. */
  driftEvery: number;
  /** MaskGIT steps of one render (a preview or a control picture). */
  renderSteps: number;
  /** Control prompts rendered before and after the run. */
  controls: number;
  /** Control prompts rendered at a check during the run. */
  controlsDuringRun: number;
}

/** Multiples of k in (lo, hi): the steps in lo+1 .. hi-1 at which a check every k steps fires (never at the last). */
function firings(k: number, lo: number, hi: number): number {
  return k > 0 ? Math.max(0, Math.floor((hi - 1) / k) - Math.floor(lo / k)) : 0;
}

/** How many images a run renders (each `renderSteps` guided steps): the base controls, the checks during the run
 *  (the first `controlsDuringRun`), the previews, and after the run one preview and all controls again. */
export function rendersOf(p: RunPlan): number {
  const total = p.inversionSteps + p.steps;
  const during = Math.min(p.controlsDuringRun, p.controls);
  return (
    p.controls +
    firings(p.driftEvery, p.inversionSteps, total) * during +
    firings(p.previewEvery, p.inversionSteps, total) +
    1 +
    p.controls
  );
}

/** Seconds the run takes, or null with no measured speed. `genStepSec`: a generation's seconds per step. */
export function runSeconds(p: RunPlan, measured: MeasuredTrainRate | null, genStepSec: number | null): number | null {
  const ok = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
  let trainSec: number;
  let renderStepSec: number;
  if (measured && ok(measured.secPerStep) && ok(measured.batch)) {
    trainSec = (measured.secPerStep * p.batch) / measured.batch;
    renderStepSec = ok(genStepSec)
      ? genStepSec
      : measured.secPerStep / (TRAIN_STEP_PER_GEN_STEP_PER_ITEM * measured.batch);
  } else if (ok(genStepSec)) {
    trainSec = genStepSec * TRAIN_STEP_PER_GEN_STEP_PER_ITEM * p.batch;
    renderStepSec = genStepSec;
  } else return null;
  return (p.inversionSteps + p.steps) * trainSec + rendersOf(p) * p.renderSteps * renderStepSec;
}

/** The line under the settings: "About 4 min 10 s on this device (from the last run's speed)." or how to get one. */
export function estimateText(p: RunPlan, measured: MeasuredTrainRate | null, genStepSec: number | null): string {
  const s = runSeconds(p, measured, genStepSec);
  if (s === null) return 'Time: estimated once this device has generated an image or run a few steps.';
  const source = measured ? "from this device's last fine-tuning speed" : "rough, from this device's generation speed";
  return `About ${formatDuration(s)} for ${p.inversionSteps + p.steps} steps (${source}).`;
}

const RATE_KEY = 'mm-ft-rate:';
const GEN_KEY = 'mm-gen-step:';

type Store = Pick<Storage, 'getItem' | 'setItem'> | null;

function store(): Store {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage blocked (privacy settings): no memory, no estimate from past runs
  }
}

/** The remembered fine-tuning speed of `modelId` on this device, or null. */
export function loadTrainRate(modelId: string, s: Store = store()): MeasuredTrainRate | null {
  try {
    const v = JSON.parse(s?.getItem(RATE_KEY + modelId) ?? 'null') as MeasuredTrainRate | null;
    return v && v.secPerStep > 0 && v.batch > 0 ? { secPerStep: v.secPerStep, batch: v.batch } : null;
  } catch {
    return null;
  }
}

export function saveTrainRate(modelId: string, rate: MeasuredTrainRate, s: Store = store()): void {
  try {
    s?.setItem(RATE_KEY + modelId, JSON.stringify(rate));
  } catch {
    // full or blocked: the estimate simply stays as it was
  }
}

/** The remembered generation time per step (seconds) of `modelId` on this device, or null. */
export function loadGenStepSec(modelId: string, s: Store = store()): number | null {
  const v = Number(s?.getItem(GEN_KEY + modelId) ?? Number.NaN);
  return Number.isFinite(v) && v > 0 ? v : null;
}

export function saveGenStepSec(modelId: string, sec: number, s: Store = store()): void {
  try {
    if (Number.isFinite(sec) && sec > 0) s?.setItem(GEN_KEY + modelId, String(sec));
  } catch {
    // as above
  }
}

/** A generation's time per step from its frames' step times (ms): the median after the first (which compiles the
 *  pipelines); null with fewer than two steps. */
export function genStepSecOf(msSteps: number[]): number | null {
  const rest = msSteps
    .slice(1)
    .filter((m) => Number.isFinite(m) && m > 0)
    .sort((a, b) => a - b);
  if (!rest.length) return null;
  const mid = rest.length >> 1;
  return (rest.length % 2 ? rest[mid]! : (rest[mid - 1]! + rest[mid]!) / 2) / 1000;
}
