// The drift guard as the worker runs it (src/worker/finetune/session.ts + drift_guard.ts), in Node on Dawn with the
// e2e tiny models (e2e/fixtures/models): the base renders of the control prompts come before the first step, a
// cheap check on the first DRIFT_GUARD.duringRun controls every `driftEvery` steps, a check of all of them after
// the run; the final report is the drift between independent base and merged-adapter renders of the same prompts and
// seeds; a check past the bounds with stopOnDrift stops the run, keeping the last adapter within them; and prior
// preservation puts the base renders of the controls, with their captions, in the last rows of every batch.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoraAdapter, MMambaConfig } from '../src/finetune/api';
import { DRIFT_CONTROL_PROMPTS, DRIFT_GUARD } from '../src/finetune/defaults';
import { driftReport } from '../src/finetune/drift';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';
import { TextToImage } from '../src/model/pipeline';
import { GENERATION_SETTINGS } from '../src/model/settings';
import { loadWeights, type Manifest } from '../src/model/weights';
import type { FineTuneProgress } from '../src/worker/api';
import type { Dataset } from '../src/worker/finetune/dataset';
import {
  CONTROLS,
  type ControlRender,
  type RenderControls,
  type RenderSettings,
} from '../src/worker/finetune/drift_guard';
import { fineTunePort } from '../src/worker/finetune/port';
import { batchOrder, FineTuneRun, type RunDeps } from '../src/worker/finetune/session';
import { getEngine } from './gpu';
import { unchangedControls as unchanged } from './control_stub';
import { modelWithWord } from '../src/finetune/word';

const DIR = resolve(__dirname, '..', 'e2e', 'fixtures', 'models');
function load(id: string) {
  const manifest = JSON.parse(readFileSync(`${DIR}/${id}/manifest.json`, 'utf8')) as Manifest;
  const shards = manifest.shards.map((s) => {
    const b = readFileSync(`${DIR}/${id}/${s.file}`);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  });
  return { manifest, weights: loadWeights(manifest, shards) };
}

/** MaskGIT steps and guidance of the control renders (the request's preview settings): few, SwiftShader is slow. */
const RENDER = { previewSteps: 2, previewGuidance: 3 };
/** The render settings of a run with RENDER and no generator recommendation: the page-wide tau and temperature. */
const PAGE_RENDER: RenderSettings = {
  steps: RENDER.previewSteps,
  guidance: RENDER.previewGuidance,
  tau: GENERATION_SETTINGS.tau.default,
  temperature: GENERATION_SETTINGS.temperature.default,
};

async function setup() {
  const e = await getEngine();
  const gen = load('mmamba-e2e');
  const vq = load('vq-e2e');
  const cfg = gen.manifest.config as unknown as MMambaConfig;
  const tok = new BPETokenizer(gen.manifest.tokenizer as unknown as TokenizerSpec, cfg.text.max_len);
  const port = await fineTunePort();
  const hw = cfg.grid * cfg.grid;
  const N = 4;
  const dataset: Dataset = {
    genId: 'mmamba-e2e',
    count: N,
    hw,
    lt: tok.maxLen,
    tokens: new Int32Array(N * hw).map((_, i) => (i * 5) % cfg.codebook_size),
    textIds: new Int32Array(N * tok.maxLen).map((_, i) => tok.encode('a zorblat')[i % tok.maxLen]!),
    captions: new Array(N).fill('a zorblat'),
  };
  /** The real renderer: the base weights, or the adapter merged into a copy, one pipeline per call. */
  const render: RenderControls = async (adapter, controls, settings) => {
    const merged = { manifest: gen.manifest, weights: adapter ? port.mergeAdapter(gen.weights, adapter) : gen.weights };
    const word = adapter?.wordEmbedding ? { word: adapter.info.word!, embedding: adapter.wordEmbedding } : null;
    const t2i = TextToImage.create(e, word ? modelWithWord(merged, word) : merged, vq);
    try {
      const out: ControlRender[] = [];
      for (const c of controls) {
        const r = await t2i.generate({ prompt: c.prompt, seed: c.seed, ...settings });
        const side = Math.round(Math.sqrt(r.pixels.length / 4));
        out.push({ image: { width: side, height: side, rgba: r.pixels.slice() }, tokens: r.tokens.slice() });
      }
      return out;
    } finally {
      t2i.dispose();
    }
  };
  const deps = (renderControls: RenderControls, onProgress: RunDeps['onProgress']): RunDeps => ({
    engine: e,
    port,
    base: { ref: { modelId: 'mmamba-e2e', config: cfg }, weights: gen.weights },
    dataset,
    emptyTextIds: tok.encode(''),
    preview: async () => ({ width: 1, height: 1, rgba: new Uint8ClampedArray(4) }),
    renderControls,
    encodeText: (t) => tok.encode(t),
    tokenizer: gen.manifest.tokenizer as unknown as TokenizerSpec,
    onProgress,
  });
  return { render, deps, tok, dataset };
}

describe('drift guard in the fine-tuning run (e2e tiny models)', () => {
  it('renders the controls with the base first, checks the first few every K steps and all after the run', async () => {
    const { render, deps } = await setup();
    const events: FineTuneProgress[] = [];
    const calls: Array<{ adapter: boolean; prompts: string[] }> = [];
    const counted: RenderControls = async (adapter, controls, settings) => {
      calls.push({ adapter: adapter !== null, prompts: controls.map((c) => c.prompt) });
      return render(adapter, controls, settings);
    };
    const run = new FineTuneRun(
      deps(counted, async (p) => void events.push(p)),
      {
        rank: 4,
        steps: 4,
        lr: 0.05,
        batchSize: 4,
        previewEvery: 0,
        seed: 2,
        driftEvery: 2,
        ...RENDER,
      },
    );
    const res = await run.run();
    expect(res.status).toBe('done');
    expect(DRIFT_CONTROL_PROMPTS.length).toBeGreaterThanOrEqual(8);
    expect(calls).toEqual([
      { adapter: false, prompts: [...DRIFT_CONTROL_PROMPTS] },
      { adapter: true, prompts: DRIFT_CONTROL_PROMPTS.slice(0, DRIFT_GUARD.duringRun) },
      { adapter: true, prompts: [...DRIFT_CONTROL_PROMPTS] },
    ]);
    const kinds = events.map((p) =>
      p.kind === 'step' ? `step${p.step}` : p.kind === 'drift' ? `drift${p.step}${p.final ? 'final' : ''}` : p.kind,
    );
    expect(kinds).toEqual([
      'start',
      'controls',
      'step1',
      'step2',
      'drift2',
      'step3',
      'step4',
      'preview',
      'drift4final',
      'done',
    ]);
    const controls = events.find((p) => p.kind === 'controls') as Extract<FineTuneProgress, { kind: 'controls' }>;
    expect(controls.images.length).toBe(DRIFT_CONTROL_PROMPTS.length);
    const during = events.find((p) => p.kind === 'drift' && !p.final) as Extract<FineTuneProgress, { kind: 'drift' }>;
    expect(during.report.prompts.length).toBe(DRIFT_GUARD.duringRun);
    const final = events.find((p) => p.kind === 'drift' && p.final) as Extract<FineTuneProgress, { kind: 'drift' }>;

    // The final report is the drift between fresh base and merged-adapter renders of the same prompts and seeds.
    const base = await render(null, CONTROLS, PAGE_RENDER);
    const adapted = await render(run.adapter!, CONTROLS, PAGE_RENDER);
    const want = driftReport(base, adapted);
    console.log(
      'final drift per control:',
      final.report.prompts
        .map(
          (p, i) =>
            `${DRIFT_CONTROL_PROMPTS[i]}: ${p.psnr32.toFixed(1)} dB, colour ${p.colourShareDiff.toFixed(3)}, tokens ${p.tokenChange.toFixed(2)}`,
        )
        .join('; '),
    );
    expect(final.report).toEqual(want);
    expect(final.images.map((i) => Array.from(i.rgba))).toEqual(adapted.map((a) => Array.from(a.image.rgba)));
    // an adapter that changes nothing (B = 0) drifts nothing: the check measures the adapter, not the sampling
    const zero: LoraAdapter = {
      ...run.adapter!,
      pairs: new Map(
        [...run.adapter!.pairs].map(([k, p]) => [
          k,
          { A: p.A, B: { shape: p.B.shape, data: new Float32Array(p.B.data.length) } },
        ]),
      ),
    };
    const same = driftReport(base, await render(zero, CONTROLS, PAGE_RENDER));
    expect(same.worst).toEqual({ psnr32: Infinity, colourShareDiff: 0, tokenChange: 0 });
  }, 600_000);

  it('stopOnDrift: a check past the bounds stops the run and keeps the adapter of the last check within them', async () => {
    const { render, deps } = await setup();
    // Adapted renders past step 2 come out black (drift far past the bounds); earlier ones are the real renders.
    const driftsAfter2: RenderControls = async (adapter, controls, settings) => {
      const out = await render(adapter, controls, settings);
      if (adapter && adapter.info.steps > 2) for (const r of out) r.image.rgba.fill(0);
      return out;
    };
    const bases = await render(null, CONTROLS, PAGE_RENDER);
    const early = await (async () => {
      const events: FineTuneProgress[] = [];
      const run = new FineTuneRun(
        deps(driftsAfter2, async (p) => void events.push(p)),
        {
          rank: 4,
          steps: 6,
          lr: 0.0001,
          batchSize: 4,
          previewEvery: 0,
          seed: 2,
          driftEvery: 2,
          stopOnDrift: true,
          ...RENDER,
        },
      );
      const res = await run.run();
      return { res, events, run };
    })();
    const { res, events, run } = early;
    const drifts = events.filter((p) => p.kind === 'drift') as Array<Extract<FineTuneProgress, { kind: 'drift' }>>;
    console.log(
      'checks:',
      drifts
        .map((d) => `step ${d.step}: worst ${d.report.worst.psnr32.toFixed(1)} dB, within ${d.report.withinBounds}`)
        .join('; '),
    );
    expect(bases.length).toBe(CONTROLS.length);
    expect(drifts.map((d) => d.step)).toEqual([2, 4]);
    expect(drifts[0]!.report.withinBounds).toBe(true); // lr 1e-4 for 2 steps barely moves the tiny model
    expect(drifts[1]!.report.withinBounds).toBe(false);
    expect(res.status).toBe('stopped');
    expect(events.find((p) => p.kind === 'drift-stop')).toMatchObject({ step: 4, savedStep: 2 });
    expect(run.adapter!.info.steps).toBe(2);
    expect(res.steps).toBe(2);
    expect(res.canSave).toBe(true);
    expect(events.filter((p) => p.kind === 'step').length).toBe(4);
  }, 600_000);

  it('prior preservation: the last rows of each batch are base renders of the controls with their captions, by seed', async () => {
    const { render, deps, tok, dataset } = await setup();
    let bases: ControlRender[] = [];
    const keepBase: RenderControls = async (adapter, controls, settings) => {
      const out = await render(adapter, controls, settings);
      if (!adapter) bases = out;
      return out;
    };
    const seen = async (seed: number) => {
      const batches: Array<{ tokens: Int32Array; textIds: Int32Array }> = [];
      const d = deps(keepBase, async () => {});
      const port: RunDeps['port'] = {
        ...d.port,
        createTrainer: (...args) => {
          const t = d.port.createTrainer(...args);
          const step = t.step.bind(t);
          t.step = async (b) => {
            batches.push({ tokens: b.tokens.slice(), textIds: b.textIds.slice() });
            return step(b);
          };
          return t;
        },
      };
      const run = new FineTuneRun(
        { ...d, port },
        {
          rank: 2,
          steps: 8,
          lr: 0.01,
          batchSize: 4,
          previewEvery: 0,
          seed,
          driftEvery: 0,
          priorFraction: 0.25,
          ...RENDER,
        },
      );
      const res = await run.run();
      expect(res.status).toBe('done');
      return batches;
    };
    const a = await seen(5);
    const { hw, lt } = dataset;
    const row = (b: { tokens: Int32Array; textIds: Int32Array }, r: number) => ({
      tokens: Array.from(b.tokens.subarray(r * hw, (r + 1) * hw)),
      ids: Array.from(b.textIds.subarray(r * lt, (r + 1) * lt)),
    });
    // rows 0–2: the pairs in the run's seeded order; row 3 (round(4 · 0.25) = 1 row): a control's base render
    const order = batchOrder(dataset.count, 5);
    const priorSeq: number[] = [];
    for (const b of a) {
      for (let r = 0; r < 3; r++) {
        const i = order();
        expect(row(b, r)).toEqual({
          tokens: Array.from(dataset.tokens.subarray(i * hw, (i + 1) * hw)),
          ids: Array.from(dataset.textIds.subarray(i * lt, (i + 1) * lt)),
        });
      }
      const last = row(b, 3);
      const k = bases.findIndex((x) => Array.from(x.tokens).join() === last.tokens.join());
      expect(k, 'row 3 is a base render of a control').toBeGreaterThanOrEqual(0);
      expect(last.ids).toEqual(Array.from(tok.encode(CONTROLS[k]!.prompt)));
      priorSeq.push(k);
    }
    console.log('prior rows (control index per step), seed 5:', priorSeq.join(' '));
    expect([...priorSeq].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]); // one epoch of the 8 controls in 8 steps
    // the same seed gives the same batches
    const again = await seen(5);
    expect(again.map((b) => Array.from(b.tokens))).toEqual(a.map((b) => Array.from(b.tokens)));
  }, 900_000);

  it('textual inversion first: word steps, then LoRA steps on top; the adapter carries the word and its row', async () => {
    const { deps } = await setup();
    const events: FineTuneProgress[] = [];
    const run = new FineTuneRun(
      deps(unchanged, async (p) => void events.push(p)),
      {
        rank: 2,
        steps: 2,
        lr: 0.01,
        batchSize: 4,
        previewEvery: 0,
        seed: 2,
        driftEvery: 0,
        inversionSteps: 2,
        word: 'Zorblat',
        ...RENDER,
      },
    );
    const res = await run.run();
    expect(res.status).toBe('done');
    const steps = events.filter((p) => p.kind === 'step') as Array<Extract<FineTuneProgress, { kind: 'step' }>>;
    expect(steps.map((p) => `${p.step}/${p.totalSteps} ${p.phase}`)).toEqual([
      '1/4 word',
      '2/4 word',
      '3/4 lora',
      '4/4 lora',
    ]);
    expect(res.losses.length).toBe(4);
    const a = run.adapter!;
    expect(a.info.word).toBe('zorblat');
    expect(a.wordEmbedding!.length).toBe((deps(unchanged, async () => {}).base.ref.config as MMambaConfig).text.width);
    // it names the base model itself (not the word-extended config), so it loads back against the base
    const back = deps(unchanged, async () => {}).port.parseAdapter(
      deps(unchanged, async () => {}).port.serializeAdapter(a),
      deps(unchanged, async () => {}).base.ref,
    );
    expect(Array.from(back.wordEmbedding!)).toEqual(Array.from(a.wordEmbedding!));
    expect(
      () =>
        new FineTuneRun(
          deps(unchanged, async () => {}),
          { rank: 2, steps: 2, lr: 0.01, batchSize: 4, previewEvery: 0, seed: 2, inversionSteps: 2 },
        ),
    ).toThrow(/new word/);
  }, 600_000);

  it("previews and controls are drawn with the generator's recommended sampling; a request's preview guidance wins", async () => {
    const { deps } = await setup();
    const recommended = { steps: 3, guidance: 2.5, tau: 6, temperature: 0.7 };
    const drawn = async (sampling: RunDeps['sampling'], previewGuidance?: number) => {
      const seen: RenderSettings[] = [];
      const d: RunDeps = {
        ...deps(
          async (adapter, controls, settings) => {
            seen.push(settings);
            return unchanged(adapter, controls, settings);
          },
          async () => {},
        ),
        sampling,
        preview: async (_adapter, _prompt, settings) => {
          seen.push(settings);
          return { width: 1, height: 1, rgba: new Uint8ClampedArray(4) };
        },
      };
      const req = { rank: 2, steps: 1, lr: 0.01, batchSize: 4, previewEvery: 1, seed: 4, previewSteps: 2 };
      const res = await new FineTuneRun(d, previewGuidance === undefined ? req : { ...req, previewGuidance }).run();
      expect(res.status).toBe('done');
      expect(seen.length).toBe(3); // base controls, the preview of step 1 (the last), the end-of-run check
      return seen;
    };
    // the preview steps are the run's own (fewer than a generation's, for speed); the rest is the generator's
    const want = { steps: 2, guidance: 2.5, tau: 6, temperature: 0.7 };
    for (const s of await drawn(recommended)) expect(s).toEqual(want);
    for (const s of await drawn(recommended, 3)) expect(s).toEqual({ ...want, guidance: 3 });
    for (const s of await drawn(undefined))
      expect(s).toEqual({ ...PAGE_RENDER, guidance: GENERATION_SETTINGS.guidance.default });
  }, 600_000);
});
