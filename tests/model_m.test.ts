// The next model sizes ("M", before GPU time is spent training them) on the engine against PyTorch running the same
// dequantised int8 weights (tests/fixtures/make_m_cases.py): random generators with mmamba-v2's text side, exported
// through the training path. One 4-step MaskGIT edit run from a partly masked grid (every third token kept): the
// first 4 logit rows of its first forward (normalised tolerance 1e-4, as tests/model_full.test.ts), and the grids of
// its first MODEL_M_STEPS (default 1) steps (exact). So a single forward per model checks both.
// - Every run: the blocks of training/recipes/mmamba-m.sh and uvit-m.sh (their ARCH flags) at depth 1
//   (tests/fixtures/m_shapes: mmamba-m1 = model M's lite block at its width, so its dt_rank; uvit-m1 = UViT M's block
//   at d 384 with 4 heads, head dim 96), full 16x16 grid, codebook 1024; unguided (a batch-1 forward: ~35 s for
//   mmamba-m1 at d 512, ~20 s for uvit-m1 on SwiftShader on 2 cores). A recipe whose ARCH changed fails here.
// - Opt-in (MODEL_M=1, or MODEL_M=<dir>; minutes on SwiftShader): the full-depth models that
//   `make_m_cases.py --full` wrote to training/runs/model-m (git-ignored) or <dir>; guidance 4 (a batch-2 forward).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../src/engine/tensor';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';
import type { Generator } from '../src/model/generator';
import { createGenerator } from '../src/model/pipeline';
import type { Manifest } from '../src/model/weights';
import { firstStepGrids } from './first_steps';
import { expectClose, getEngine, normalisedError } from './gpu';
import { loadModelDir } from './model_dirs';

const root = resolve(__dirname, '..');
const TOL = 1e-4;
const STEPS = Number(process.env.MODEL_M_STEPS ?? 1);

interface Case {
  recipe: string;
  arch: string[];
  shard_sha256: string;
  ids: number[];
  uncond_ids: number[];
  guidance: number;
  rows: number;
  /** Per row of the first forward (the prompt; guided: then the empty prompt), its first `rows` logit rows. */
  logits_rows: number[][];
  steps: number[][];
}

function readCases(path: string): Record<string, Case> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, Case>;
}

/** The recipe's ARCH=(...) train_gen.py flags (training/recipes/*.sh). */
function recipeArch(recipe: string): string[] {
  const found = [...readFileSync(resolve(root, recipe), 'utf8').matchAll(/^ARCH=\((.*)\)$/gm)];
  expect(found.length, `${recipe}: one ARCH=(...) line`).toBe(1);
  return found[0]![1]!.trim().split(/\s+/);
}

/** The model is the architecture the recipe trains (its width, so head dim and dt_rank; `layers` unless null). */
function expectArch(m: Manifest, r: Case, layers: number | null): void {
  expect(recipeArch(r.recipe), `${r.recipe} changed its ARCH: rerun tests/fixtures/make_m_cases.py`).toEqual(r.arch);
  const flag = (f: string) => {
    const i = r.arch.indexOf(f);
    return i < 0 ? undefined : Number(r.arch[i + 1]);
  };
  const c = m.config as Record<string, unknown>;
  expect(m.kind).toBe(r.arch[r.arch.indexOf('--model') + 1]);
  expect([c.d, c.layers, c.grid, c.codebook_size]).toEqual([flag('--d'), layers ?? flag('--layers'), 16, 1024]);
  if (m.kind === 'mmamba') {
    expect([c.expand, c.d_state, c.ffn_mult]).toEqual([flag('--expand'), flag('--d-state'), flag('--ffn-mult')]);
    expect([c.ffn, c.dt_rank]).toEqual([r.arch.includes('--ffn'), Math.ceil((c.d as number) / 16)]);
  }
  const shape = m.kind === 'mmamba' ? `dt_rank ${c.dt_rank}` : `head dim ${(c.d as number) / (c.heads as number)}`;
  console.log(`${m.modelId}: d ${c.d}, ${shape}`);
}

/** One edit run of the fixture (`make_m_cases.py` reference()): the first step's forward (guided: batch 2, the prompt
 *  then the empty prompt) is copied aside for the logit rows, and the grid after each of the first STEPS steps is
 *  read back. */
async function check(id: string, dir: string, r: Case): Promise<void> {
  const e = await getEngine();
  const { manifest: m, shards, weights } = loadModelDir(dir);
  expect(createHash('sha256').update(new Uint8Array(shards[0]!)).digest('hex'), 'rerun make_m_cases.py').toBe(
    r.shard_sha256,
  );
  const model = createGenerator(e, m, weights);
  let first: Tensor | null = null;
  const spy: Generator = {
    kind: model.kind,
    config: model.config,
    encodeText: (ids, B) => model.encodeText(ids, B),
    logits: (tokens, cond, stages) => {
      const out = model.logits(tokens, cond, stages);
      if (!first) {
        first = e.empty(out.shape, 'f32', 'first_logits');
        e.copy(out, first);
      }
      return out;
    },
    dispose: () => model.dispose(),
  };
  try {
    const tok = new BPETokenizer(m.tokenizer as unknown as TokenizerSpec);
    expect(Array.from(tok.encode('a red heart'))).toEqual(r.ids);
    expect(Array.from(tok.encode(''))).toEqual(r.uncond_ids);
    const { codebook_size: K, grid } = model.config;
    const HW = grid * grid;
    const initTokens = Array.from({ length: HW }, (_, p) => p % K);
    const keep = Array.from({ length: HW }, (_, p) => (p % 3 === 0 ? 1 : 0));
    const upTo = Math.min(r.steps.length, STEPS);
    const req = {
      ids: r.ids,
      uncondIds: r.uncond_ids,
      batch: 1,
      steps: r.steps.length,
      guidance: r.guidance,
      tau: 4.5,
      temperature: 1,
      seed: 11,
      initTokens,
      keep,
    };
    const grids = await firstStepGrids(e, spy, req, upTo);
    expect(first, 'the sampler ran a forward').not.toBeNull();
    const logits = await e.readF32(first!);
    expect(logits.length).toBe(r.logits_rows.length * HW * K);
    for (const [half, want] of r.logits_rows.entries()) {
      const got = logits.subarray(half * HW * K, half * HW * K + r.rows * K);
      const what = `${id} ${half ? 'uncond' : 'cond'} logits`;
      console.log(`${what}: normalised error ${normalisedError(got, want).toExponential(2)}`);
      expectClose(got, want, TOL, what);
    }
    expect(grids.length).toBe(upTo);
    grids.forEach((g, i) => {
      expect(g, `${id} step ${i}`).toEqual(r.steps[i]);
    });
  } finally {
    (first as Tensor | null)?.dispose();
    model.dispose();
  }
}

describe('M shapes at depth 1 vs PyTorch (tests/fixtures/m_shapes)', () => {
  const ref = readCases(resolve(root, 'tests/fixtures/m_cases.json'));
  it("is the recipes' M architectures at depth 1", () => {
    expect(Object.keys(ref).sort()).toEqual(['mmamba-m1', 'uvit-m1']);
    for (const [id, r] of Object.entries(ref))
      expectArch(loadModelDir(resolve(root, 'tests/fixtures/m_shapes', id)).manifest, r, 1);
  });
  for (const id of Object.keys(ref))
    it(id, { timeout: 300_000 }, () => check(id, resolve(root, 'tests/fixtures/m_shapes', id), ref[id]!));
});

const fullDir = process.env.MODEL_M === '1' ? resolve(root, 'training/runs/model-m') : process.env.MODEL_M;
const runFull = !!fullDir && existsSync(resolve(fullDir, 'cases.json'));
describe.skipIf(!runFull)('full-depth M models vs PyTorch (opt-in: MODEL_M=1 after make_m_cases.py --full)', () => {
  const ref = runFull ? readCases(resolve(fullDir, 'cases.json')) : {};
  for (const id of Object.keys(ref))
    it(id, { timeout: 600_000 }, async () => {
      const dir = resolve(fullDir!, id);
      expectArch(loadModelDir(dir).manifest, ref[id]!, null);
      await check(id, dir, ref[id]!);
    });
});
