// The per-step profiler's accounting (bench/step_profiler.ts, `npm run bench:profile`): on the tiny e2e M-Mamba
// (e2e/fixtures/models), the profiler sees exactly the dispatches the engine records and the number the model's
// structure predicts; its family times add up to the step's busy time and busy + idle to the span; profiling does not
// change what the step computes. No timed assertions: only identities between numbers of one measurement.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModelDir } from '../bench/model_files';
import {
  plainStep,
  profiledStep,
  startRun,
  summariseStep,
  type DispatchRecord,
  type ProfileTarget,
  type TimingSource,
} from '../bench/step_profiler';
import type { MMambaConfig } from '../src/model/common';
import { defaultFusions } from '../src/model/fusions';
import { TextToImage } from '../src/model/pipeline';
import { getEngine } from './gpu';

const MODELS = resolve(__dirname, '../e2e/fixtures/models');

/** Dispatches of one guided M-Mamba step (no FFN, the inference fusions of src/model/fusions.ts on), counted from
 *  the model's structure: embed: embedding (+ pos_emb add) + concat_rows; per layer: the mixer's ops
 *  (mmamba_mixer.ts mixerInfer); head: rmsNorm + logits reading the image rows in place; sampling:
 *  gumbel_max_sample + maskgit_update. */
// rmsNorm, in_proj.x, in_proj.z, conv1d_cross, x_proj, dt_proj (reads x_dbl's dt columns in place), scan,
// layerNorm_silu_gate, out_proj_residual (out_proj with the gated residual as its epilogue); the chunked scan
// (fusion chunkedScan) merges the four directions in a separate crossMerge dispatch
const MIXER_DISPATCHES = 9 + (defaultFusions().chunkedScan ? 1 : 0);
function expectedStepDispatches(c: MMambaConfig): number {
  return (c.pos_emb ? 3 : 2) + c.layers * MIXER_DISPATCHES + 2 + 2;
}

async function setup() {
  const e = await getEngine();
  const pipe = TextToImage.create(
    e,
    readModelDir(resolve(MODELS, 'mmamba-e2e')),
    readModelDir(resolve(MODELS, 'vq-e2e')),
  );
  const Lt = pipe.generator.config.text.max_len;
  const pad = (ids: ArrayLike<number>) => Int32Array.from({ length: Lt }, (_, i) => ids[i] ?? 0);
  const target: ProfileTarget = {
    generator: pipe.generator,
    decoder: pipe.decoder,
    ids: pad(pipe.tokenizer.encode('red apple')),
    uncondIds: pad(pipe.tokenizer.encode('')),
    guidance: 4,
    steps: 2,
    seed: 7,
  };
  return { e, pipe, target };
}

describe('step profiler accounting (tiny e2e M-Mamba, guided: batch-2 forward)', () => {
  const sources: TimingSource[] = ['gpu-timestamps', 'cpu-submit'];
  for (const source of sources) {
    it(`${source}: counts every dispatch, sums consistently, leaves the result unchanged`, async () => {
      const { e, pipe, target } = await setup();
      if (source === 'gpu-timestamps' && !e.ctx.hasTimestamps) return; // adapter without timestamp-query
      const cfg = pipe.generator.config as MMambaConfig;
      const plainRun = startRun(e, target);
      const profRun = startRun(e, target);
      try {
        const plain = await e.checked(() => plainStep(e, plainRun, pipe.decoder));
        const { records, engineDispatches } = await e.checked(() => profiledStep(e, profRun, pipe.decoder, source));
        // the profiler sees what the engine recorded, and what the model's structure predicts
        expect(records.length).toBe(engineDispatches);
        expect(records.length).toBe(plain.dispatches);
        const s = summariseStep(records, source);
        expect(s.dispatches.step).toBe(expectedStepDispatches(cfg));
        expect(s.dispatches.step + s.dispatches.preview).toBe(s.dispatches.total);
        // every step dispatch falls in a named family
        expect(s.families.map((f) => f.family)).not.toContain('other');
        expect(s.families.reduce((a, f) => a + f.dispatches, 0)).toBe(records.length);
        // Σ families = busy; busy + idle = span (dispatches of one queue do not overlap)
        const sumFamilies = s.families.reduce((a, f) => a + f.ms, 0);
        expect(Math.abs(sumFamilies - s.busyMs)).toBeLessThanOrEqual(1e-9 * Math.max(1, s.busyMs));
        for (const r of records) expect(r.ms).toBeGreaterThanOrEqual(0);
        expect(Math.abs(s.busyMs + s.idleMs - s.spanMs)).toBeLessThanOrEqual(1e-6 * Math.max(1, s.spanMs));
        if (source === 'cpu-submit') expect(s.idleMs).toBeLessThanOrEqual(1e-6 * Math.max(1, s.spanMs));
        // the VQ decode by label adds up to its family
        const vq = s.families.find((f) => f.family === 'VQ preview decode')!;
        expect(s.previewByLabel.reduce((a, l) => a + l.dispatches, 0)).toBe(s.dispatches.preview);
        expect(s.previewByLabel.map((l) => l.label).sort()).toEqual([...vq.labels].sort());
        const sumLabels = s.previewByLabel.reduce((a, l) => a + l.ms, 0);
        expect(Math.abs(sumLabels - vq.ms)).toBeLessThanOrEqual(1e-9 * Math.max(1, vq.ms));
        // profiling changes how the step is submitted, not what it computes
        const a = await e.read(plainRun.tokens);
        const b = await e.read(profRun.tokens);
        expect(Array.from(b)).toEqual(Array.from(a));
      } finally {
        plainRun.dispose();
        profRun.dispose();
        pipe.dispose();
      }
    });
  }

  it('summariseStep on hand-made records: families, busy, idle, the largest gap, the preview by label', () => {
    const rec = (
      label: string,
      startMs: number,
      ms: number,
      segment: DispatchRecord['segment'] = 'step',
    ): DispatchRecord => ({ label, startMs, ms, segment });
    const s = summariseStep(
      [
        rec('rmsNorm', 0, 1),
        rec('in_proj.x', 1.5, 2),
        rec('in_proj.z', 3.5, 2),
        rec('selective_scan_fused', 6.5, 3),
        rec('conv2d3x3', 10, 0.5, 'preview'),
        rec('gn_stats', 10.5, 0.25, 'preview'),
        rec('conv2d3x3', 10.75, 0.5, 'preview'),
        rec('add', 11.25, 0.125, 'preview'),
      ],
      'gpu-timestamps',
    );
    expect(s.dispatches).toEqual({ step: 4, preview: 4, total: 8 });
    expect(s.busyMs).toBeCloseTo(9.375, 12);
    expect(s.spanMs).toBeCloseTo(11.375, 12);
    expect(s.idleMs).toBeCloseTo(2, 12);
    expect(s.largestGap.before).toBe('selective_scan_fused');
    expect(s.largestGap.ms).toBeCloseTo(1, 12);
    expect(s.families.map((f) => [f.family, f.dispatches, f.ms])).toEqual([
      ['matmul / linear', 2, 4],
      ['selective scan', 1, 3],
      ['VQ preview decode', 4, 1.375],
      ['norm (+ modulation)', 1, 1],
    ]);
    expect(s.previewByLabel).toEqual([
      { label: 'conv2d3x3', dispatches: 2, ms: 1 },
      { label: 'gn_stats', dispatches: 1, ms: 0.25 },
      { label: 'add', dispatches: 1, ms: 0.125 },
    ]);
  });
});
