// Textual inversion (src/finetune/inversion.ts) against its PyTorch reference (training/make_inversion_fixture.py →
// tests/fixtures/inversion_tiny.json) on the e2e tiny generator, in Node on Dawn: the step's text dropout and training
// mask (shared counter RNG) equal PyTorch's exactly; the gradient of the word's row (MMambaAutodiff on the table
// with the row) matches autograd's; three WordInversion steps (warmup, cosine lr, clipping in the first step only, a
// dropped caption in the third, a batch row without the word) give PyTorch's lr, loss, gradient norm and row.
// A run at another learning rate must not match (the tolerance tells lr apart).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FineTuneOptions, MMambaConfig } from '../src/finetune/api';
import { WordInversion } from '../src/finetune/inversion';
import { defaultEmptyTextIds, dropText, maskForTraining } from '../src/finetune/masking';
import { MMambaAutodiff } from '../src/finetune/mmamba_autodiff';
import { configWithWord, initialWordVector, newWordId, TEXT_TABLE, weightsWithWord } from '../src/finetune/word';
import type { TokenizerSpec } from '../src/model/bpe';
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
