// The fine-tuning time estimate before Start (src/ui/finetune_estimate.ts): render counts follow the worker's
// schedule, the time scales with steps and batch, the measured run speed outranks the generation speed, and the
// remembered speeds round-trip through a Storage.
import { describe, expect, it } from 'vitest';
import {
  estimateText,
  genStepSecOf,
  loadGenStepSec,
  loadTrainRate,
  rendersOf,
  type RunPlan,
  runSeconds,
  saveGenStepSec,
  saveTrainRate,
  TRAIN_STEP_PER_GEN_STEP_PER_ITEM as K,
} from '../src/ui/finetune_estimate';

const plan = (over: Partial<RunPlan> = {}): RunPlan => ({
  steps: 200,
  inversionSteps: 0,
  batch: 8,
  previewEvery: 50,
  driftEvery: 50,
  renderSteps: 8,
  controls: 8,
  controlsDuringRun: 4,
  ...over,
});

describe('rendersOf', () => {
  it('counts the base controls, the checks and previews before the last step, and the final preview and check', () => {
    // steps 1..200: checks and previews at 50, 100, 150 (not at 200, the last): 3·4 + 3, then 1 + 8 after
    expect(rendersOf(plan())).toBe(8 + 12 + 3 + 1 + 8);
    expect(rendersOf(plan({ previewEvery: 0, driftEvery: 0 }))).toBe(8 + 1 + 8);
    // word steps 1..30 come first; LoRA steps are 31..230, checks at 50, 100, 150, 200
    expect(rendersOf(plan({ inversionSteps: 30 }))).toBe(8 + 16 + 4 + 1 + 8);
    expect(rendersOf(plan({ controls: 1, controlsDuringRun: 4 }))).toBe(1 + 3 + 3 + 1 + 1);
  });
});

describe('runSeconds', () => {
  it('is null with no measured speed', () => {
    expect(runSeconds(plan(), null, null)).toBeNull();
    expect(runSeconds(plan(), { secPerStep: 0, batch: 8 }, Number.NaN)).toBeNull();
  });

  it('from the generation speed: K·batch generation steps per training step plus the renders', () => {
    const g = 0.01;
    const p = plan();
    expect(runSeconds(p, null, g)).toBeCloseTo(200 * g * K * 8 + rendersOf(p) * 8 * g, 9);
    // doubling the batch doubles the training part only
    const train = (b: number) => runSeconds(plan({ batch: b }), null, g)! - rendersOf(p) * 8 * g;
    expect(train(16) / train(8)).toBeCloseTo(2, 9);
  });

  it('a measured run speed outranks the generation speed and scales with the batch', () => {
    const m = { secPerStep: 0.5, batch: 4 };
    const p = plan({ batch: 8, previewEvery: 0, driftEvery: 0, controls: 1, controlsDuringRun: 1 });
    const renders = rendersOf(p) * 8 * 0.02;
    expect(runSeconds(p, m, 0.02)).toBeCloseTo(200 * 1.0 + renders, 9);
    // with no generation speed the render step is derived from the training speed
    expect(runSeconds(p, m, null)).toBeCloseTo(200 * 1.0 + rendersOf(p) * 8 * (0.5 / (K * 4)), 9);
    expect(runSeconds(plan({ steps: 400 }), m, 0.02)! > runSeconds(plan(), m, 0.02)!).toBe(true);
  });
});

describe('estimateText', () => {
  it('says the time and where it comes from, or how to get one', () => {
    expect(estimateText(plan(), null, null)).toMatch(/^Time: estimated once/);
    expect(estimateText(plan({ steps: 10 }), { secPerStep: 1, batch: 8 }, 0.01)).toMatch(
      /^About \d+ s for 10 steps \(from this device's last fine-tuning speed\)\.$/,
    );
    expect(estimateText(plan({ steps: 10, inversionSteps: 5 }), null, 0.01)).toMatch(/for 15 steps \(rough/);
  });
});

describe('remembered speeds', () => {
  it('round-trip per model and refuse junk', () => {
    const m = new Map<string, string>();
    const s = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
    expect(loadTrainRate('a', s)).toBeNull();
    saveTrainRate('a', { secPerStep: 0.25, batch: 8 }, s);
    expect(loadTrainRate('a', s)).toEqual({ secPerStep: 0.25, batch: 8 });
    expect(loadTrainRate('b', s)).toBeNull();
    m.set('mm-ft-rate:b', '{"secPerStep":-1,"batch":8}');
    expect(loadTrainRate('b', s)).toBeNull();
    m.set('mm-ft-rate:b', 'not json');
    expect(loadTrainRate('b', s)).toBeNull();
    saveGenStepSec('a', 0.03, s);
    saveGenStepSec('a', Number.NaN, s);
    expect(loadGenStepSec('a', s)).toBe(0.03);
    expect(loadGenStepSec('b', s)).toBeNull();
  });

  it('a generation step time is the median after the first (compiling) step', () => {
    expect(genStepSecOf([900])).toBeNull();
    expect(genStepSecOf([900, 30, 10, 20])).toBeCloseTo(0.02, 9);
    expect(genStepSecOf([900, 30, 10])).toBeCloseTo(0.02, 9);
  });
});
