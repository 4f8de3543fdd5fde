// A fine-tuning run as the worker drives it (src/worker/finetune/session.ts with the real trainer through
// src/worker/finetune/port.ts), in Node on Dawn, on the e2e tiny model set (e2e/fixtures/models,
// training/make_e2e_tiny.py): checkerboard pictures VQ-encoded on the GPU, captions through the generator's BPE, a
// short run whose loss falls, progress in order, pause/resume/cancel, the adapter round-tripping through its file
// format, and the merged model generating tokens closer to the pictures' than the base model does. Base weights stay
// untouched.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BaseModelRef, MMambaConfig } from '../src/finetune/api';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';
import type { VQConfig } from '../src/model/common';
import { TextToImage } from '../src/model/pipeline';
import { VQEncoder } from '../src/model/vq_encoder';
import { loadWeights, type Manifest } from '../src/model/weights';
import type { FineTuneProgress } from '../src/worker/api';
import type { Dataset } from '../src/worker/finetune/dataset';
import { fineTunePort } from '../src/worker/finetune/port';
import { GpuDeviceLostError } from '../src/engine/errors';
import { FineTuneRun, type RunDeps } from '../src/worker/finetune/session';
import { getEngine } from './gpu';
import { unchangedControls } from './control_stub';

const DIR = resolve(__dirname, '..', 'e2e', 'fixtures', 'models');
/** Steps of the learning run: SwiftShader takes seconds per step even for the tiny model. */
const STEPS = 10;
function load(id: string) {
  const manifest = JSON.parse(readFileSync(`${DIR}/${id}/manifest.json`, 'utf8')) as Manifest;
  const shards = manifest.shards.map((s) => {
    const b = readFileSync(`${DIR}/${id}/${s.file}`);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  });
  return { manifest, weights: loadWeights(manifest, shards) };
}

const COLOURS = [
  [220, 40, 40],
  [40, 70, 220],
];
function checkerboard(S: number): Uint8ClampedArray {
  const rgba = new Uint8ClampedArray(S * S * 4);
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const c = COLOURS[(Math.floor((x * 4) / S) + Math.floor((y * 4) / S)) % 2]!;
      rgba.set([c[0]!, c[1]!, c[2]!, 255], (y * S + x) * 4);
    }
  return rgba;
}

/** Run dependencies over 4 synthetic pairs ("a zorblat", token grids from `token(i)`) on the e2e tiny generator. */
async function syntheticRunDeps(
  token: (i: number) => number,
  onProgress: RunDeps['onProgress'],
): Promise<{ deps: RunDeps; cfg: MMambaConfig }> {
  const e = await getEngine();
  const gen = load('mmamba-e2e');
  const cfg = gen.manifest.config as unknown as MMambaConfig;
  const tok = new BPETokenizer(gen.manifest.tokenizer as unknown as TokenizerSpec, cfg.text.max_len);
  const hw = cfg.grid * cfg.grid;
  const dataset: Dataset = {
    genId: 'mmamba-e2e',
    count: 4,
    hw,
    lt: tok.maxLen,
    tokens: new Int32Array(4 * hw).map((_, i) => token(i) % cfg.codebook_size),
    textIds: new Int32Array(4 * tok.maxLen).map((_, i) => tok.encode('a zorblat')[i % tok.maxLen]!),
    captions: new Array(4).fill('a zorblat'),
  };
  const deps: RunDeps = {
    engine: e,
    port: await fineTunePort(),
    base: { ref: { modelId: 'mmamba-e2e', config: cfg }, weights: gen.weights },
    dataset,
    emptyTextIds: tok.encode(''),
    preview: async () => ({ width: 1, height: 1, rgba: new Uint8ClampedArray(4) }),
    renderControls: unchangedControls,
    encodeText: (t) => tok.encode(t),
    onProgress,
  };
  return { deps, cfg };
}

describe('fine-tuning run on the e2e tiny models', () => {
  it('learns a made-up word: loss falls, progress in order, merged model draws the pictures more than the base', async () => {
    const e = await getEngine();
    const gen = load('mmamba-e2e');
    const vq = load('vq-e2e');
    const cfg = gen.manifest.config as unknown as MMambaConfig;
    const vcfg = vq.manifest.config as unknown as VQConfig;
    const tok = new BPETokenizer(gen.manifest.tokenizer as unknown as TokenizerSpec, cfg.text.max_len);
    const enc = new VQEncoder(e, vcfg, vq.weights);
    const x = enc.imageFromRGBA(checkerboard(vcfg.image_size));
    const target = await enc.encode(x);
    x.dispose();
    enc.dispose();
    const N = 8;
    const hw = target.length;
    const lt = tok.maxLen;
    const ds: Dataset = {
      genId: 'mmamba-e2e',
      count: N,
      hw,
      lt,
      tokens: new Int32Array(N * hw).map((_, i) => target[i % hw]!),
      textIds: new Int32Array(N * lt).map((_, i) => tok.encode('a zorblat')[i % lt]!),
      captions: new Array(N).fill('a zorblat'),
    };
    const port = await fineTunePort();
    const ref: BaseModelRef = { modelId: 'mmamba-e2e', config: cfg };
    const baseCopy = new Map([...gen.weights].map(([k, v]) => [k, v.data.slice()]));
    const events: FineTuneProgress[] = [];
    let previews = 0;
    const run = new FineTuneRun(
      {
        engine: e,
        port,
        base: { ref, weights: gen.weights },
        dataset: ds,
        emptyTextIds: tok.encode(''),
        preview: async () => {
          previews++;
          return { width: 1, height: 1, rgba: new Uint8ClampedArray(4) };
        },
        renderControls: unchangedControls,
        encodeText: (t) => tok.encode(t),
        onProgress: async (p) => void events.push(p),
      },
      { rank: 4, steps: STEPS, lr: 0.05, batchSize: 4, previewEvery: 5, seed: 1 },
    );
    const t0 = performance.now();
    const res = await run.run();
    console.log(
      `${STEPS} steps: ${(performance.now() - t0).toFixed(0)} ms; losses ${res.losses.map((l) => l.toFixed(2)).join(' ')}`,
    );
    expect(res.status).toBe('done');
    expect(res.canSave).toBe(true);
    expect(events[0]!.kind).toBe('start');
    expect(events.at(-1)).toMatchObject({ kind: 'done', status: 'done', steps: STEPS });
    expect(events.filter((p) => p.kind === 'step').map((p) => (p as { step: number }).step)).toEqual(
      Array.from({ length: STEPS }, (_, i) => i + 1),
    );
    expect(previews).toBe(2);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(res.losses.slice(-3))).toBeLessThan(0.8 * mean(res.losses.slice(0, 3)));
    for (const [k, v] of gen.weights) expect(v.data, k).toEqual(baseCopy.get(k));

    // The saved file round-trips, and the merged model reproduces the pictures' tokens better than the base.
    const file = port.serializeAdapter(run.adapter!);
    const back = port.parseAdapter(file, ref);
    const tokenMatch = async (weights: typeof gen.weights) => {
      const t2i = TextToImage.create(e, { manifest: gen.manifest, weights }, vq);
      const r = await t2i.generate({ prompt: 'a zorblat', seed: 11, steps: 8, guidance: 3 });
      t2i.dispose();
      return Array.from(r.tokens).filter((t, i) => t === target[i]).length;
    };
    const base = await tokenMatch(gen.weights);
    const tuned = await tokenMatch(port.mergeAdapter(gen.weights, back));
    console.log(`tokens equal to the pictures': base ${base}/${hw}, adapter ${tuned}/${hw}`);
    expect(tuned).toBeGreaterThan(base);
    expect(() => port.parseAdapter(new Uint8Array([1, 2, 3]).buffer, ref)).toThrow(/adapter/i);
  }, 600_000);

  it('"what to adapt" picks the adapted weights: the text encoder only, or the generator only', async () => {
    const { deps, cfg } = await syntheticRunDeps(
      (i) => i * 7,
      async () => {},
    );
    const names: Record<string, string[]> = {};
    for (const adapt of ['text', 'generator'] as const) {
      const run = new FineTuneRun(deps, { rank: 2, steps: 2, lr: 0.01, batchSize: 4, previewEvery: 0, seed: 3, adapt });
      const res = await run.run();
      expect(res.status).toBe('done');
      names[adapt] = [...run.adapter!.pairs.keys()];
      // the pairs moved: B starts at zero and a step with a non-zero gradient changes it
      expect([...run.adapter!.pairs.values()].some((p) => p.B.data.some((v) => v !== 0))).toBe(true);
    }
    const blocks = Array.from({ length: cfg.text.layers }, (_, j) =>
      ['attn.qkv.weight', 'attn.out.weight', 'mlp.0.weight', 'mlp.2.weight'].map((n) => `text.layers.${j}.${n}`),
    );
    expect(names.text).toEqual(['text.proj.weight', 'text.pool_proj.weight', ...blocks.flat()]);
    expect(names.generator!.length).toBeGreaterThan(0);
    expect(names.generator!.some((n) => n.startsWith('text.'))).toBe(false);
  }, 300_000);

  it('a GPU failure mid-run stops it and keeps the last snapshot to save; with no snapshot yet the error surfaces', async () => {
    const kinds: string[] = [];
    let message = '';
    const { deps } = await syntheticRunDeps(
      (i) => i * 3,
      async (p) => {
        kinds.push(p.kind);
        if (p.kind === 'error-stop') message = p.message;
      },
    );
    /** The real port, whose trainers fail like a lost device on step `failAt`. */
    const failing = (failAt: number): RunDeps['port'] => ({
      ...deps.port,
      createTrainer: (...args) => {
        const t = deps.port.createTrainer(...args);
        let n = 0;
        const step = t.step.bind(t);
        t.step = async (batch) => {
          if (++n === failAt) throw new GpuDeviceLostError('unknown', 'simulated loss');
          return step(batch);
        };
        return t;
      },
    });
    const before = new Map([...deps.base.weights].map(([name, w]) => [name, w.data.slice()]));
    const run = new FineTuneRun(
      { ...deps, port: failing(5) },
      { rank: 2, steps: 10, lr: 0.01, batchSize: 4, previewEvery: 2, seed: 4 },
    );
    const res = await run.run();
    expect(res.status).toBe('stopped');
    expect(res.canSave).toBe(true);
    expect(res.steps).toBe(4); // the snapshot of the step-4 preview
    expect(run.adapter?.pairs.size).toBeGreaterThan(0);
    expect(kinds.filter((k) => k === 'step')).toHaveLength(4);
    expect(kinds.slice(-2)).toEqual(['error-stop', 'done']);
    expect(message).toMatch(/simulated loss.*after step 4 can still be saved/);
    // the base weights were not written
    for (const [name, w] of deps.base.weights) expect(w.data, name).toEqual(before.get(name));

    const early = new FineTuneRun(
      { ...deps, port: failing(1) },
      { rank: 2, steps: 10, lr: 0.01, batchSize: 4, previewEvery: 2, seed: 4 },
    );
    await expect(early.run()).rejects.toThrow(GpuDeviceLostError);
    expect(early.adapter).toBeNull();

    // the worker's device-loss handler (stopForGpuFailure, unlike cancel) also keeps the snapshot
    let told!: FineTuneRun;
    told = new FineTuneRun(
      {
        ...deps,
        onProgress: async (p) =>
          void (
            p.kind === 'step' &&
            p.step === 3 &&
            told.stopForGpuFailure(new GpuDeviceLostError('destroyed', 'told by the worker'))
          ),
      },
      { rank: 2, steps: 10, lr: 0.01, batchSize: 4, previewEvery: 2, seed: 4 },
    );
    const r2 = await told.run();
    expect([r2.status, r2.steps, r2.canSave]).toEqual(['stopped', 2, true]);
  }, 300_000);

  it('pause holds between steps, cancel discards the adapter', async () => {
    const kinds: string[] = [];
    let run!: FineTuneRun;
    const { deps } = await syntheticRunDeps(
      (i) => i,
      async (p) => {
        kinds.push(p.kind);
        if (p.kind === 'step' && p.step === 2) run.pause();
        if (p.kind === 'paused') setTimeout(() => run.resume(), 50);
        if (p.kind === 'step' && p.step === 4) run.cancel();
      },
    );
    run = new FineTuneRun(deps, { rank: 2, steps: 100, lr: 0.01, batchSize: 4, previewEvery: 0, seed: 2 });
    const res = await run.run();
    expect(res.status).toBe('cancelled');
    expect(res.canSave).toBe(false);
    expect(run.adapter).toBeNull();
    expect(kinds).toEqual(['start', 'controls', 'step', 'step', 'paused', 'resumed', 'step', 'step', 'done']);
  }, 300_000);
});
