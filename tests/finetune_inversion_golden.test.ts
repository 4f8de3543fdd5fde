// Textual inversion (src/finetune/inversion.ts) against its PyTorch reference (training/make_inversion_fixture.py →
// tests/fixtures/inversion_tiny.json) on the e2e tiny generator, in Node on Dawn: the step's text dropout and training
// mask (shared counter RNG) equal PyTorch's exactly; the gradient of the word's row (MMambaAutodiff on the table
// with the row) matches autograd's; three WordInversion steps (warmup, cosine lr, clipping in the first step only, a
// dropped caption in the third, a batch row without the word) give PyTorch's lr, loss, gradient norm and row.
// A run at another learning rate must not match (the tolerance tells lr apart).
// Then the LoRA phase on top (pivotal tuning) with prior preservation (tests/fixtures/lora_prior_step_tiny.json, same
// script): the worker's batch assembly (priorItems, fillBatch: the prior rows last) gives the reference batch, and
// two FineTuner steps on the base with the learned row (every 'all' target, weight decay, clipping) give its lr,
// loss, global gradient norm and factors.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FineTuneOptions, LoraAdapter, LoraTarget, MMambaConfig } from '../src/finetune/api';
import { WordInversion } from '../src/finetune/inversion';
import { defaultEmptyTextIds, dropText, maskForTraining } from '../src/finetune/masking';
import { MMambaAutodiff } from '../src/finetune/mmamba_autodiff';
import { configHash } from '../src/finetune/lora';
import { FineTuner } from '../src/finetune/trainer';
import {
  configWithWord,
  initialWordVector,
  newWordId,
  TEXT_TABLE,
  tokenizerWithWord,
  weightsWithWord,
} from '../src/finetune/word';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';
import { fillBatch, priorItems, priorRows } from '../src/worker/finetune/session';
import { loadWeights, type Manifest } from '../src/model/weights';
import { getEngine } from './gpu';

interface Step {
  lr: number;
  loss: number;
  gradNorm: number;
  clipCoef: number;
  textIds: number[];
  mask: number[];
  grad: number[];
  row: number[];
}
interface Fixture {
  word: string;
  wordId: number;
  options: FineTuneOptions & { textDropout: number; seed: number };
  textIds: number[];
  tokens: number[];
  init: number[];
  steps: Step[];
}

const ROOT = resolve(__dirname, '..');
const fx = JSON.parse(readFileSync(`${ROOT}/tests/fixtures/inversion_tiny.json`, 'utf8')) as Fixture;
const DIR = `${ROOT}/e2e/fixtures/models/mmamba-e2e`;
const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as Manifest;
const weights = loadWeights(
  manifest,
  manifest.shards.map((s) => {
    const b = readFileSync(`${DIR}/${s.file}`);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }),
);
const cfg = manifest.config as unknown as MMambaConfig;
const spec = manifest.tokenizer as unknown as TokenizerSpec;
const B = fx.options.batchSize;
const HW = cfg.grid * cfg.grid;
const Lt = cfg.text.max_len;

/** max |a − b| / max(max |b|, floor): one normalised error per vector. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  let s = floor;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / s;
}

const batch = () => ({ tokens: Int32Array.from(fx.tokens), textIds: Int32Array.from(fx.textIds) });
const seedNote = `seed ${fx.options.seed}`;

describe('textual inversion vs its PyTorch reference (inversion_tiny)', () => {
  it("the word's id and its starting row are the reference's", () => {
    expect(newWordId(spec)).toBe(fx.wordId);
    expect(relErr(initialWordVector(weights, spec), fx.init)).toBeLessThan(1e-6);
  });

  it('text dropout and the training mask of every step equal PyTorch’s exactly', () => {
    fx.steps.forEach((s, step) => {
      const text = dropText(fx.textIds, B, defaultEmptyTextIds(Lt), fx.options.textDropout, fx.options.seed, step);
      expect(Array.from(text), `text ids, step ${step + 1}, ${seedNote}`).toEqual(s.textIds);
      const m = maskForTraining(fx.tokens, B, HW, cfg.codebook_size, fx.options.seed, step);
      expect(Array.from(m.mask), `mask, step ${step + 1}, ${seedNote}`).toEqual(s.mask);
    });
  });

  it("the first step's loss and gradient of the word's row match autograd", async () => {
    const e = await getEngine();
    const c = configWithWord(cfg, fx.wordId);
    const model = new MMambaAutodiff(e, c, weightsWithWord(weights, fx.wordId, Float32Array.from(fx.init)));
    const s = fx.steps[0]!;
    const m = maskForTraining(fx.tokens, B, HW, cfg.codebook_size, fx.options.seed, 0);
    const res = model.forwardBackward(
      { batch: B, textIds: s.textIds, imgTokens: m.imgTokens, targets: Uint32Array.from(fx.tokens), mask: m.mask },
      new Set([TEXT_TABLE]),
    );
    const loss = (await e.readF32(res.loss))[0]!;
    const table = await e.readF32(res.grads.get(TEXT_TABLE)!);
    const w = cfg.text.width;
    const grad = table.slice(fx.wordId * w, (fx.wordId + 1) * w);
    res.loss.dispose();
    for (const g of res.grads.values()) g.dispose();
    model.dispose();
    console.log(
      `inversion golden: loss ${loss} (torch ${s.loss}), row grad err ${relErr(grad, s.grad).toExponential(2)}`,
    );
    expect(Math.abs(loss - s.loss) / s.loss).toBeLessThan(1e-4);
    expect(relErr(grad, s.grad)).toBeLessThan(2e-3);
  }, 300_000);

  it('three WordInversion steps give the reference lr, loss, gradient norm and row; another lr does not', async () => {
    const e = await getEngine();
    const base = { ref: { modelId: 'mmamba-e2e', config: cfg }, weights };
    const inv = new WordInversion(e, base, spec, fx.word, { ...fx.options, maxMicroBatch: 2 });
    expect(inv.id).toBe(fx.wordId);
    const rowErrs: number[] = [];
    for (const [i, s] of fx.steps.entries()) {
      const r = await inv.step(batch());
      const row = await inv.embedding();
      rowErrs.push(relErr(row, s.row));
      const at = `step ${i + 1}, ${seedNote}`;
      expect(r.applied, at).toBe(true);
      expect(Math.abs(r.lr - s.lr), `lr, ${at}`).toBeLessThan(1e-9);
      expect(Math.abs(r.loss - s.loss) / s.loss, `loss ${r.loss} vs ${s.loss}, ${at}`).toBeLessThan(1e-4);
      expect(Math.abs(r.gradNorm - s.gradNorm) / s.gradNorm, `|g| ${r.gradNorm} vs ${s.gradNorm}, ${at}`).toBeLessThan(
        2e-3,
      );
      expect(rowErrs[i], `row, ${at}`).toBeLessThan(1e-4);
    }
    inv.dispose();
    console.log(`inversion golden: row errors ${rowErrs.map((x) => x.toExponential(2)).join(' ')}`);

    // sensitivity: 10% more learning rate moves the first step's row past the tolerance
    const other = new WordInversion(e, base, spec, fx.word, { ...fx.options, lr: fx.options.lr * 1.1 });
    await other.step(batch());
    const off = relErr(await other.embedding(), fx.steps[0]!.row);
    other.dispose();
    expect(off, 'a 10% different lr must not match the golden row').toBeGreaterThan(1e-3);
  }, 600_000);
});

interface LoraFixture {
  wordId: number;
  wordRow: number[];
  rank: number;
  alpha: number;
  targets: LoraTarget[];
  params: string[];
  pairCaptions: string[];
  priorPrompts: string[];
  options: FineTuneOptions & { textDropout: number; seed: number };
  textIds: number[];
  tokens: number[];
  init: Record<string, { A: number[]; B: number[] }>;
  steps: { lr: number; loss: number; gradNorm: number; clipCoef: number }[];
  final: Record<string, { A: number[]; B: number[] }>;
}

describe('a LoRA step with prior preservation vs its PyTorch reference (lora_prior_step_tiny)', () => {
  const lf = JSON.parse(readFileSync(`${ROOT}/tests/fixtures/lora_prior_step_tiny.json`, 'utf8')) as LoraFixture;
  const LB = lf.options.batchSize;
  const lseed = `seed ${lf.options.seed}`;

  it("the worker's batch assembly puts the prior rows last: the reference batch", () => {
    const tok = new BPETokenizer(tokenizerWithWord(spec, fx.word), Lt);
    const encode = (t: string) => tok.encode(t);
    const nPairs = lf.pairCaptions.length;
    const pairs = {
      count: nPairs,
      tokens: Int32Array.from(lf.tokens.slice(0, nPairs * HW)),
      textIds: new Int32Array(nPairs * Lt),
    };
    lf.pairCaptions.forEach((c, i) => {
      pairs.textIds.set(encode(c), i * Lt);
    });
    const renders = lf.priorPrompts.map((_, i) => ({
      tokens: lf.tokens.slice((nPairs + i) * HW, (nPairs + i + 1) * HW),
    }));
    const prior = priorItems(renders, lf.priorPrompts, encode, HW, Lt);
    const rows = priorRows(LB, 0.5, prior.count);
    expect(rows).toBe(lf.priorPrompts.length);
    let p = 0;
    let q = 0;
    const batch = { tokens: new Int32Array(LB * HW), textIds: new Int32Array(LB * Lt) };
    fillBatch(batch, LB, HW, Lt, pairs, () => p++ % nPairs, { items: prior, rows, next: () => q++ % prior.count });
    expect(Array.from(batch.textIds)).toEqual(lf.textIds);
    expect(Array.from(batch.tokens)).toEqual(lf.tokens);
  });

  it('two FineTuner steps on the base with the learned word give the reference lr, loss, ‖g‖ and factors', async () => {
    const e = await getEngine();
    const ref = { modelId: 'mmamba-e2e', config: configWithWord(cfg, lf.wordId) };
    const base = { ref, weights: weightsWithWord(weights, lf.wordId, Float32Array.from(lf.wordRow)) };
    const lora = { rank: lf.rank, alpha: lf.alpha, targets: lf.targets };
    const pairsOf = (src: LoraFixture['init']) => {
      const m: LoraAdapter['pairs'] = new Map();
      for (const n of lf.params) {
        const w = weights.get(n)!.shape as [number, number];
        m.set(n, {
          A: { shape: [lf.rank, w[1]], data: Float32Array.from(src[n]!.A) },
          B: { shape: [w[0], lf.rank], data: Float32Array.from(src[n]!.B) },
        });
      }
      return m;
    };
    const init: LoraAdapter = {
      config: { ...lora, targets: [...lora.targets] },
      info: { baseModelId: ref.modelId, baseConfigHash: configHash(ref.config), steps: 0 },
      pairs: pairsOf(lf.init),
    };
    const ft = new FineTuner(e, base, lora, lf.options, init);
    for (const [i, s] of lf.steps.entries()) {
      const r = await ft.step({ tokens: Int32Array.from(lf.tokens), textIds: Int32Array.from(lf.textIds) });
      const at = `step ${i + 1}, ${lseed}`;
      expect(r.applied, at).toBe(true);
      expect(Math.abs(r.lr - s.lr), `lr, ${at}`).toBeLessThan(1e-9);
      expect(Math.abs(r.loss - s.loss) / s.loss, `loss ${r.loss} vs ${s.loss}, ${at}`).toBeLessThan(1e-4);
      expect(Math.abs(r.gradNorm - s.gradNorm) / s.gradNorm, `‖g‖ ${r.gradNorm} vs ${s.gradNorm}, ${at}`).toBeLessThan(
        2e-3,
      );
    }
    const got = await ft.getAdapter();
    ft.dispose();
    let worst = 0;
    for (const n of lf.params) {
      const p = got.pairs.get(n)!;
      const err = Math.max(relErr(p.A.data, lf.final[n]!.A), relErr(p.B.data, lf.final[n]!.B));
      expect(err, `${n} after ${lf.steps.length} steps, ${lseed}`).toBeLessThan(1e-4);
      worst = Math.max(worst, err);
    }
    console.log(`lora+prior golden: worst factor error ${worst.toExponential(2)} over ${lf.params.length} params`);
  }, 600_000);
});
