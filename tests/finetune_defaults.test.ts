// One source for the fine-tuning defaults (page = library = benchmark), and the run's speed estimate that leaves
// out the first step (shader compilation).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as lib from '../src/finetune';
import { ADAPT_TARGETS, DEFAULT_FINETUNE_OPTIONS, DEFAULT_LORA_CONFIG, warmupStepsFor } from '../src/finetune/defaults';
import { ADAPT_TARGETS as SESSION_TARGETS } from '../src/worker/finetune/session';
import { FINETUNE_SETTINGS } from '../src/worker/finetune/settings';
import { StepRate } from '../src/worker/finetune/step_rate';
import { speedText } from '../src/ui/finetune_speed';

describe('fine-tuning defaults: one source', () => {
  it('the library exports the same objects as defaults.ts', () => {
    expect(lib.DEFAULT_FINETUNE_OPTIONS).toBe(DEFAULT_FINETUNE_OPTIONS);
    expect(lib.DEFAULT_LORA_CONFIG).toBe(DEFAULT_LORA_CONFIG);
    expect(SESSION_TARGETS).toBe(ADAPT_TARGETS);
  });

  it("the page's starting values are the library's defaults", () => {
    expect(FINETUNE_SETTINGS.rank.default).toBe(DEFAULT_LORA_CONFIG.rank);
    expect(FINETUNE_SETTINGS.steps.default).toBe(DEFAULT_FINETUNE_OPTIONS.totalSteps);
    expect(FINETUNE_SETTINGS.lr.default).toBe(DEFAULT_FINETUNE_OPTIONS.lr);
    expect(FINETUNE_SETTINGS.batchSize.default).toBe(DEFAULT_FINETUNE_OPTIONS.batchSize);
    expect(FINETUNE_SETTINGS.seed.default).toBe(DEFAULT_FINETUNE_OPTIONS.seed);
    expect(DEFAULT_LORA_CONFIG.targets).toEqual(ADAPT_TARGETS.all); // the page's default "what to adapt"
    expect(DEFAULT_LORA_CONFIG.alpha).toBe(DEFAULT_LORA_CONFIG.rank); // the worker uses alpha = rank
    expect(DEFAULT_FINETUNE_OPTIONS.warmupSteps).toBe(warmupStepsFor(DEFAULT_FINETUNE_OPTIONS.totalSteps));
  });

  it('the values the page was measured with (issue 20): rank 8, 200 steps, lr 0.002, batch 8, no weight decay', () => {
    expect({ ...DEFAULT_FINETUNE_OPTIONS, betas: [...DEFAULT_FINETUNE_OPTIONS.betas!] }).toEqual({
      batchSize: 8,
      lr: 0.002,
      weightDecay: 0,
      warmupSteps: 10,
      totalSteps: 200,
      gradClip: 1,
      seed: 0,
      schedule: 'cosine',
      minLrRatio: 0.1,
      betas: [0.9, 0.95],
      eps: 1e-8,
      textDropout: 0.1,
    });
    expect(DEFAULT_LORA_CONFIG).toEqual({
      rank: 8,
      alpha: 8,
      targets: ['in_proj', 'out_proj', 'mod', 'text', 'text_layers', 'head'],
    });
    expect([warmupStepsFor(1), warmupStepsFor(20), warmupStepsFor(49), warmupStepsFor(5000)]).toEqual([0, 4, 9, 10]);
  });

  it('the worker run and the benchmark take their settings from defaults.ts, not literals', () => {
    const session = readFileSync(resolve(__dirname, '../src/worker/finetune/session.ts'), 'utf8');
    expect(session).toMatch(/\.\.\.DEFAULT_FINETUNE_OPTIONS/);
    expect(session).not.toMatch(/weightDecay:|gradClip:|textDropout:/);
    const bench = readFileSync(resolve(__dirname, '../bench/finetune.ts'), 'utf8');
    expect(bench).toMatch(/\.\.\.DEFAULT_FINETUNE_OPTIONS/);
    expect(bench).toMatch(/DEFAULT_LORA_CONFIG\.targets/);
    expect(bench).not.toMatch(/lr: 1e-3/);
  });
});

describe('time left: the first step (shader compilation) is left out', () => {
  it('no estimate after the first step; then the mean of the steps after it', () => {
    const rate = new StepRate();
    expect(rate.etaSec(199)).toBeNull();
    rate.add(30); // first step: compiles every pipeline
    expect(rate.stepsPerSec()).toBeNull();
    expect(rate.etaSec(199)).toBeNull();
    rate.add(0.125);
    expect(rate.stepsPerSec()).toBeCloseTo(8, 10);
    expect(rate.etaSec(198)).toBeCloseTo(24.75, 10); // not 334 s as with the compile in the window
    rate.add(0.375);
    expect(rate.stepsPerSec()).toBeCloseTo(2 / 0.5, 10);
  });

  it('the rolling window keeps the last 10 steps', () => {
    const rate = new StepRate();
    rate.add(100);
    for (let i = 0; i < 10; i++) rate.add(1);
    for (let i = 0; i < 10; i++) rate.add(0.5);
    expect(rate.stepsPerSec()).toBeCloseTo(2, 10);
  });

  it('the panel says "estimating…" until there is an estimate', () => {
    expect(speedText(0, null, null, true)).toBe('');
    expect(speedText(1, null, null, true)).toBe('estimating…');
    expect(speedText(2, 8, 24.75, true)).toBe('8.00 steps/s · 25 s left');
    expect(speedText(200, 8, 0, false)).toBe('8.00 steps/s');
    expect(speedText(1, null, null, false)).toBe('');
  });
});
