// The SHIPPED generator mmamba-v2 (public/models/mmamba-v2: lite block with expand 1, d_state 1 and the GEGLU FFN
// sublayer, text encoder with the baked word prior (MiniLM), tokenizer v2, int8) on the engine against PyTorch running
// the same dequantised weights (tests/fixtures/v2_cases.json, written by tests/fixtures/make_v2_cases.py): the v2 ids
// of a few prompts, and one batch-1 forward of "a red heart" on a fixed partly masked grid: six full logit rows and,
// for all 256 rows, sum, sum of squares and argmax. A mis-run (a missing FFN, a wrong scan size, v1 tokenisation, an
// unbaked prior) moves these far beyond the tolerance. A re-exported model fails at the shard check: rerun the script.
// Whether mmamba-v2 is the page's default is index.json's (`defaultGenerator`); this golden holds either way.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';
import type { MMambaConfig } from '../src/model/common';
import { MMamba } from '../src/model/mmamba';
import { loadWeights, type Manifest } from '../src/model/weights';
import { expectClose, getEngine, normalisedError } from './gpu';

const root = resolve(__dirname, '..');
const ref = JSON.parse(readFileSync(resolve(root, 'tests/fixtures/v2_cases.json'), 'utf8')) as {
  model: string;
  shard_sha256: string;
  prompts: Array<{ text: string; ids: number[] }>;
  rows: number[];
  logits_rows: number[][];
  row_sum: number[];
  row_sumsq: number[];
  row_argmax: number[];
  row_top2_gap: number[];
  logits_absmax: number;
};
const dir = resolve(root, 'public/models', ref.model);
const manifest = JSON.parse(readFileSync(resolve(dir, 'manifest.json'), 'utf8')) as Manifest;
const cfg = manifest.config as unknown as MMambaConfig;
const TOL = 1e-4; // normalised, as the other forward goldens (f32 on both sides, same dequantised weights)

describe(`shipped ${ref.model} vs PyTorch`, () => {
  it('is a shipped generator, and the fixture was made from these bytes', () => {
    const index = JSON.parse(readFileSync(resolve(root, 'public/models/index.json'), 'utf8')) as {
      models: Array<{ id: string; kind: string; shardSha256: string[] }>;
    };
    const entry = index.models.find((m) => m.id === ref.model);
    expect(entry?.kind, `${ref.model} in public/models/index.json`).toBe('mmamba');
    expect(entry?.shardSha256).toEqual([ref.shard_sha256]); // one shard, the one the fixture was made from
    const bytes = readFileSync(resolve(dir, manifest.shards[0]!.file));
    expect(createHash('sha256').update(bytes).digest('hex'), 'rerun tests/fixtures/make_v2_cases.py').toBe(
      ref.shard_sha256,
    );
    // the configuration this golden is about: lite block, FFN, tokenizer v2 with its word list
    expect([cfg.layers, cfg.d, cfg.expand, cfg.d_state, cfg.ffn, cfg.ffn_mult, cfg.directions]).toEqual([
      6,
      256,
      1,
      1,
      true,
      2,
      4,
    ]);
  });

  it('tokenizer v2: the ids of training/mmamba/bpe.py', () => {
    const tok = new BPETokenizer(manifest.tokenizer as unknown as TokenizerSpec, cfg.text.max_len);
    expect(tok.version).toBe(2);
    expect(tok.vocabSize).toBe(cfg.text.vocab_size);
    for (const p of ref.prompts) expect(Array.from(tok.encode(p.text)), JSON.stringify(p.text)).toEqual(p.ids);
    // the fixture's prompts do use whole-word ids (the word list), not only merges
    expect(ref.prompts[0]!.ids.some((v) => v >= tok.wordOffset)).toBe(true);
  });

  it('one forward at batch 1: logit rows, per-row sums and argmax', { timeout: 300_000 }, async () => {
    const e = await getEngine();
    const b = readFileSync(resolve(dir, manifest.shards[0]!.file));
    const w = loadWeights(manifest, [b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer]);
    const model = new MMamba(e, cfg, w);
    const K = cfg.codebook_size;
    const HW = cfg.grid * cfg.grid;
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
      `${ref.model}: rows ${normalisedError(rows, wantRows).toExponential(2)}, row sums ${normalisedError(sum, ref.row_sum).toExponential(2)}, sums of squares ${normalisedError(sumsq, ref.row_sumsq).toExponential(2)} (normalised)`,
    );
    expectClose(rows, wantRows, TOL, 'logit rows');
    // a row sum is a sum of 1024 logits of either sign: judged on the scale of the logits, not of the sum
    expectClose(sum, ref.row_sum, TOL, 'row sums', ref.logits_absmax * Math.sqrt(K));
    expectClose(sumsq, ref.row_sumsq, TOL, 'row sums of squares');
    // argmax: equal wherever the reference's top two are apart by more than the tolerance (a near tie may flip)
    const clear = (r: number) => ref.row_top2_gap[r]! > TOL * ref.logits_absmax;
    const flips = argmax.flatMap((a, r) => (a !== ref.row_argmax[r] && clear(r) ? [r] : []));
    expect(flips, 'rows whose argmax differs from PyTorch').toEqual([]);
    expect(argmax.filter((_, r) => clear(r)).length).toBeGreaterThan(HW - 8);
  });
});
