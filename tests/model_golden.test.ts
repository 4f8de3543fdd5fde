// The SHIPPED generators on the engine against PyTorch running the same dequantised int8 weights: one describe per
// tests/fixtures/golden_<ID>.json (written by `training/.venv/bin/python tests/fixtures/make_golden_cases.py --model
// ID`): every shard's sha256, the config fields that identify the architecture, the tokenizer's ids of a few prompts,
// and one batch-1 forward of "a red heart" on a fixed partly masked grid: six full logit rows and, for every row, sum,
// sum of squares and argmax. A mis-run (a missing FFN, a wrong scan size, v1 tokenisation of a v2 model, an unbaked
// prior) moves these far beyond the tolerance. A re-exported model fails at the shard check: rerun the maker.
// Which generators must have a fixture is public/models/index.json's: a shipped generator without one fails, and so
// does a fixture of a model no longer shipped. The forwards of the generators in OPT_IN_FORWARD (slow on SwiftShader)
// run only with MODEL_GOLDEN=1 (or MODEL_GOLDEN=ID,ID). Whether a generator is the page's default is index.json's
// (`defaultGenerator`); these goldens hold either way.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';
import { createGenerator } from '../src/model/pipeline';
import type { Manifest } from '../src/model/weights';
import { expectClose, getEngine, normalisedError } from './gpu';
import { loadModelDir } from './model_dirs';

type Golden = {
  model: string;
  kind: 'mmamba' | 'uvit';
  shard_sha256: string[];
  config: Record<string, unknown> & { text: Record<string, unknown> };
  tokenizer_version: 1 | 2;
  prompts: Array<{ text: string; ids: number[] }>;
  rows: number[];
  logits_rows: number[][];
  row_sum: number[];
  row_sumsq: number[];
  row_argmax: number[];
  row_top2_gap: number[];
  logits_absmax: number;
};
type IndexEntry = { id: string; kind: string; shardSha256: string[] };

const root = resolve(__dirname, '..');
const FIXTURES = resolve(root, 'tests/fixtures');
const MAKER = 'training/.venv/bin/python tests/fixtures/make_golden_cases.py --model';
const TOL = 1e-4; // normalised, as the other forward goldens (f32 on both sides, same dequantised weights)
/** The config fields each kind's fixture must record (the maker records these and more). */
const REQUIRED: Record<Golden['kind'], string[]> = {
  mmamba: [
    'arch',
    'layers',
    'd',
    'expand',
    'd_state',
    'dt_rank',
    'directions',
    'ffn',
    'ffn_mult',
    'codebook_size',
    'grid',
  ],
  uvit: ['arch', 'layers', 'd', 'heads', 'ffn_mult', 'codebook_size', 'grid'],
};
/** Generators whose forward runs only on request (`MODEL_GOLDEN=1` for all, `MODEL_GOLDEN=mmamba-s,uvit-s` for some),
 *  and why; their shard, config and tokenizer checks always run. Measured on the 2-core development machine on
 *  SwiftShader (load average ~4), against mmamba-v2's 73 s. */
const OPT_IN_FORWARD: Record<string, string> = {
  'mmamba-s': 'the v1 M-Mamba (expand 2, d_state 16, 8 layers): its forward takes 109 s',
  'uvit-s': 'the UViT baseline: its forward takes 65 s',
  'mmamba-m':
    'the default at d 512: its forward takes 265 s (CI would pass 25 min); its block is checked against PyTorch at small shapes in every run (tests/model_m.test.ts)',
};
const wanted = (process.env.MODEL_GOLDEN ?? '').split(',');
const runForward = (id: string) => !(id in OPT_IN_FORWARD) || wanted.includes('1') || wanted.includes(id);

const index = JSON.parse(readFileSync(resolve(root, 'public/models/index.json'), 'utf8')) as {
  models: IndexEntry[];
};
const shipped = new Map(index.models.map((m) => [m.id, m]));
const generators = index.models.filter((m) => m.kind === 'mmamba' || m.kind === 'uvit').map((m) => m.id);
const goldens = readdirSync(FIXTURES)
  .filter((f) => /^golden_.+\.json$/.test(f))
  .sort()
  .map((file) => ({ file, ref: JSON.parse(readFileSync(resolve(FIXTURES, file), 'utf8')) as Golden }));

describe('shipped generators and their goldens', () => {
  it('every fixture is of a shipped generator and named after it', () => {
    for (const { file, ref } of goldens) {
      expect(file, `tests/fixtures/${file} holds model ${ref.model}`).toBe(`golden_${ref.model}.json`);
      expect(
        shipped.has(ref.model),
        `tests/fixtures/${file}: ${ref.model} is no longer in public/models/index.json; delete the fixture`,
      ).toBe(true);
    }
  });

  it('every shipped generator has a fixture', () => {
    const have = new Set(goldens.map((g) => g.ref.model));
    for (const id of generators)
      expect(
        have.has(id),
        `shipped generator ${id} has no golden: run \`${MAKER} ${id}\` and commit tests/fixtures/golden_${id}.json`,
      ).toBe(true);
    for (const id of Object.keys(OPT_IN_FORWARD))
      expect(generators, `OPT_IN_FORWARD lists ${id}, which is not a shipped generator: drop it`).toContain(id);
  });
});

for (const { file, ref } of goldens.filter((g) => shipped.has(g.ref.model))) {
  const dir = resolve(root, 'public/models', ref.model);
  const manifest = JSON.parse(readFileSync(resolve(dir, 'manifest.json'), 'utf8')) as Manifest;
  const cfg = manifest.config as unknown as { text: { max_len: number; vocab_size: number } };

  const forwardIt = runForward(ref.model) ? it : it.skip; // OPT_IN_FORWARD

  describe(`shipped ${ref.model} vs PyTorch (${file})`, () => {
    it('the fixture was made from these bytes and this config', () => {
      const entry = shipped.get(ref.model)!;
      expect([entry.kind, manifest.kind, manifest.modelId]).toEqual([ref.kind, ref.kind, ref.model]);
      expect(ref.shard_sha256.length).toBeGreaterThan(0);
      expect(entry.shardSha256, `${ref.model}'s shards in index.json: rerun \`${MAKER} ${ref.model}\``).toEqual(
        ref.shard_sha256,
      );
      expect(manifest.shards.map((s) => s.sha256)).toEqual(ref.shard_sha256);
      manifest.shards.forEach((s, i) => {
        const bytes = readFileSync(resolve(dir, s.file));
        expect(createHash('sha256').update(bytes).digest('hex'), `${s.file}: rerun \`${MAKER} ${ref.model}\``).toBe(
          ref.shard_sha256[i],
        );
      });
      // the configuration this golden is about: every field the fixture recorded, as the manifest has it
      for (const k of REQUIRED[ref.kind]) expect(ref.config, `the fixture records config.${k}`).toHaveProperty(k);
      const c = manifest.config as Record<string, unknown> & { text: Record<string, unknown> };
      const { text, ...rest } = ref.config;
      for (const [k, v] of Object.entries(rest)) expect(c[k], `config.${k}`).toEqual(v);
      for (const [k, v] of Object.entries(text)) expect(c.text[k], `config.text.${k}`).toEqual(v);
    });

    it(`tokenizer v${ref.tokenizer_version}: the ids of training/mmamba/bpe.py`, () => {
      const tok = new BPETokenizer(manifest.tokenizer as unknown as TokenizerSpec, cfg.text.max_len);
      expect(tok.version).toBe(ref.tokenizer_version);
      expect(tok.vocabSize).toBe(cfg.text.vocab_size);
      for (const p of ref.prompts) expect(Array.from(tok.encode(p.text)), JSON.stringify(p.text)).toEqual(p.ids);
      // a v2 fixture's prompts do use whole-word ids (the word list), not only merges
      if (tok.version === 2) expect(ref.prompts[0]!.ids.some((v) => v >= tok.wordOffset)).toBe(true);
    });

    // SwiftShader: 73 s for mmamba-v2 on 2 loaded cores, ~4x that at d 512 (model M); a real GPU: a second
    forwardIt('one forward at batch 1: logit rows, per-row sums and argmax', { timeout: 1_800_000 }, async () => {
      const e = await getEngine();
      const { weights } = loadModelDir(dir);
      const model = createGenerator(e, manifest, weights);
      const K = model.config.codebook_size;
      const HW = model.config.grid * model.config.grid;
      const img = new Uint32Array(HW).fill(K);
      for (let p = 0; p < HW; p += 3) img[p] = p % K;
      const cond = model.encodeText(ref.prompts[0]!.ids, 1);
      const t = e.fromArray([1, HW], img, 'u32');
      const out = model.logits(t, cond);
      const logits = await e.readF32(out);
      out.dispose();
      t.dispose();
      cond.dispose();
      model.dispose();
      expect(logits.length).toBe(HW * K);

      const rows = new Float32Array(ref.rows.length * K);
      ref.rows.forEach((r, i) => {
        rows.set(logits.subarray(r * K, (r + 1) * K), i * K);
      });
      const wantRows = Float32Array.from(ref.logits_rows.flat());
      const sum = new Float64Array(HW);
      const sumsq = new Float64Array(HW);
      const argmax: number[] = [];
      for (let r = 0; r < HW; r++) {
        let best = 0;
        for (let k = 0; k < K; k++) {
          const v = logits[r * K + k]!;
          sum[r]! += v;
          sumsq[r]! += v * v;
          if (v > logits[r * K + best]!) best = k;
        }
        argmax.push(best);
      }
      console.log(
        `${ref.model}: rows ${normalisedError(rows, wantRows).toExponential(2)}, row sums ${normalisedError(sum, ref.row_sum, ref.logits_absmax * Math.sqrt(K)).toExponential(2)}, sums of squares ${normalisedError(sumsq, ref.row_sumsq).toExponential(2)} (normalised)`,
      );
      expectClose(rows, wantRows, TOL, 'logit rows');
      // a row sum is a sum of K logits of either sign: judged on the scale of the logits, not of the sum
      expectClose(sum, ref.row_sum, TOL, 'row sums', ref.logits_absmax * Math.sqrt(K));
      expectClose(sumsq, ref.row_sumsq, TOL, 'row sums of squares');
      // argmax: equal wherever the reference's top two are apart by more than the tolerance (a near tie may flip)
      const clear = (r: number) => ref.row_top2_gap[r]! > TOL * ref.logits_absmax;
      const flips = argmax.flatMap((a, r) => (a !== ref.row_argmax[r] && clear(r) ? [r] : []));
      expect(flips, 'rows whose argmax differs from PyTorch').toEqual([]);
      expect(argmax.filter((_, r) => clear(r)).length).toBeGreaterThan(HW - 8);
    });
  });
}
