// In-page fine-tuning at model M's width: the whole LoRA backward (lora_grad.ts effectiveWeights → mmamba_autodiff →
// factorGradients, the path trainer.ts steps) against PyTorch autograd on tests/fixtures/m_shapes/mmamba-m1, the lite
// M-Mamba of training/recipes/mmamba-m.sh at depth 1 (d 512, dt_rank 32, expand 1, d_state 1, GEGLU FFN; int8 weights
// dequantised by the app's loader) on an 8×8 grid (L = 16 + 64; the model has no learned positions, so the weights
// do not depend on the grid; at the full 16×16 grid a batch-1 forward/backward costs ~170 s of CPU on SwiftShader, too
// slow for every run), batch 1, a rank-8 LoRA pair on every target kind (in_proj, out_proj, x_proj and dt_proj per direction, adaLN mod, head, text projections, text blocks), written
// by tests/fixtures/make_m_grad_cases.py (tests/fixtures/m_grad). One forward/backward, compared three ways:
// the loss; d A and d B of every factor; and d loss / d param of every parameter at the adapted model (d W_eff for an
// adapted one): whole for the small ones, and for the larger ones each row's and each column's L2 norm and the 3
// rows of largest norm (the fixture does not carry 5 M floats of whole gradients). Measured errors ≤ 4.6e-6.
// Cost: ~130 s of CPU on SwiftShader (pipeline compilation included), 2 min 50 s wall on 2 loaded cores.
// And the memory guard (src/finetune/memory.ts) on model M's full depth (training/recipes/mmamba-m.sh ARCH --layers):
// the page's batch runs unsplit inside WebGPU's default binding limit.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../src/engine/tensor';
import type { MMambaConfig } from '../src/model/common';
import { mmambaParams } from '../src/model/params';
import { DEFAULT_MAX_BINDING_BYTES } from '../src/finetune/api';
import { DEFAULT_FINETUNE_OPTIONS, DEFAULT_LORA_CONFIG } from '../src/finetune/defaults';
import { effectiveWeights, factorGradients } from '../src/finetune/lora_grad';
import { largestMicroBatch, planMemory } from '../src/finetune/memory';
import { MMambaAutodiff } from '../src/finetune/mmamba_autodiff';
import { textTrunkParamNames } from '../src/finetune/text_autodiff';
import { expectClose, getEngine, normalisedError } from './gpu';
import { f32, fixtureBatch, readSafetensors } from './golden_io';
import { loadModelDir } from './model_dirs';

// tests/fixtures/README.md: gradients 1e-3 relative (normalised by the reference's largest magnitude); measured
// errors are printed.
const TOL = 1e-3;
const BASE = resolve(__dirname, 'fixtures/m_shapes/mmamba-m1');
const FIX = resolve(__dirname, 'fixtures/m_grad');

interface Fixture {
  shard_sha256: string;
  grid: number;
  rank: number;
  alpha: number;
  params: string[];
  full: string[];
  summarised: string[];
  rows: Record<string, number[]>;
  loss: number;
}

/** (rows, last dim) view of a gradient: each row's and each column's L2 norm (f64), and the given rows. */
function summary(g: Float32Array, cols: number, rows: number[]) {
  const n = g.length / cols;
  const norm = new Float64Array(n);
  const colnorm = new Float64Array(cols);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const v = g[r * cols + c]!;
      s += v * v;
      colnorm[c]! += v * v;
    }
    norm[r] = Math.sqrt(s);
  }
  for (let c = 0; c < cols; c++) colnorm[c] = Math.sqrt(colnorm[c]!);
  const picked = new Float32Array(rows.length * cols);
  for (const [j, r] of rows.entries()) picked.set(g.subarray(r * cols, (r + 1) * cols), j * cols);
  return { norm, colnorm, picked };
}

/** The --layers of training/recipes/mmamba-m.sh's ARCH=(...) (model M's depth). */
function recipeLayers(): number {
  const arch = readFileSync(resolve(__dirname, '../training/recipes/mmamba-m.sh'), 'utf8').match(/^ARCH=\((.*)\)$/m);
  const flags = arch![1]!.trim().split(/\s+/);
  return Number(flags[flags.indexOf('--layers') + 1]);
}

describe('fine-tuning at model M width (m_shapes/mmamba-m1 vs PyTorch)', () => {
  it('d 512, dt_rank 32, batch 1: loss, LoRA dA / dB, every parameter gradient', async () => {
    const fx = JSON.parse(readFileSync(`${FIX}/fixture.json`, 'utf8')) as Fixture;
    const { manifest, shards, weights } = loadModelDir(BASE);
    expect(
      createHash('sha256').update(new Uint8Array(shards[0]!)).digest('hex'),
      'm_shapes/mmamba-m1 changed: rerun tests/fixtures/make_m_grad_cases.py',
    ).toBe(fx.shard_sha256);
    const m1 = manifest.config as unknown as MMambaConfig;
    expect([m1.d, m1.dt_rank, m1.expand, m1.d_state, m1.ffn, m1.pos_emb]).toEqual([512, 32, 1, 1, true, false]);
    const cfg: MMambaConfig = { ...m1, grid: fx.grid };
    const e = await getEngine();
    const A = readSafetensors(`${FIX}/arrays.safetensors`);
    const model = new MMambaAutodiff(e, cfg, weights);
    const up = (n: string): Tensor => e.fromArray(A.get(n)!.shape, f32(A, n));
    const factors = fx.params.map((name) => ({ name, A: up(`lora.${name}.A`), B: up(`lora.${name}.B`) }));
    const scale = fx.alpha / fx.rank;
    const overrides = effectiveWeights(e, (n) => model.baseWeight(n), factors, scale);
    const names = [
      ...mmambaParams(cfg).keys(),
      ...textTrunkParamNames(cfg.text),
      'text.proj.weight',
      'text.proj.bias',
      'text.pool_proj.weight',
      'text.pool_proj.bias',
    ];
    expect([...names].sort()).toEqual([...fx.full, ...fx.summarised].sort());
    const r = model.forwardBackward(fixtureBatch(A), new Set(names), overrides);
    const loss = (await e.readF32(r.loss))[0]!;
    console.log(`loss ${loss} (PyTorch ${fx.loss})`);
    expect(Math.abs(loss - fx.loss) / fx.loss).toBeLessThan(1e-5);

    // every parameter (read before factorGradients consumes the adapted ones' d W_eff)
    const report: string[] = [];
    for (const n of names) {
      const g = r.grads.get(n);
      if (!g) throw new Error(`no gradient for ${n}`);
      const got = await e.readF32(g);
      if (fx.full.includes(n)) {
        const want = f32(A, `grad.${n}`);
        report.push(`${n} ${normalisedError(got, want).toExponential(1)}`);
        expectClose(got, want, TOL, `grad.${n}`);
        continue;
      }
      const cols = g.shape[g.shape.length - 1]!;
      const s = summary(got, cols, fx.rows[n]!);
      const parts: Array<[string, ArrayLike<number>, Float32Array]> = [
        ['row norms', s.norm, f32(A, `gradrownorm.${n}`)],
        ['column norms', s.colnorm, f32(A, `gradcolnorm.${n}`)],
        [`rows ${fx.rows[n]!.join(',')}`, s.picked, f32(A, `gradrows.${n}`)],
      ];
      const errs = parts.map(([, a, w]) => normalisedError(a, w));
      report.push(`${n} ${errs.map((x) => x.toExponential(1)).join('/')}`);
      for (const [what, a, w] of parts) expectClose(a, w, TOL, `grad.${n} ${what}`);
    }
    console.log(
      'mmamba-m1 parameter gradients (normalised errors; summarised: row norms/column norms/rows):',
      report.join(', '),
    );

    const adapted = new Map(fx.params.map((n) => [n, r.grads.get(n)!]));
    for (const [n, t] of r.grads) if (!adapted.has(n)) t.dispose();
    const grads = factorGradients(e, adapted, factors, scale);
    const lora: string[] = [];
    for (const [j, f] of factors.entries())
      for (const which of ['A', 'B'] as const) {
        const got = await e.readF32(which === 'A' ? grads[j]!.dA : grads[j]!.dB);
        const want = f32(A, `grad.lora.${f.name}.${which}`);
        lora.push(`${f.name}.${which} ${normalisedError(got, want).toExponential(1)}`);
        expectClose(got, want, TOL, `d ${f.name}.${which}`);
      }
    console.log('mmamba-m1 LoRA factor gradients (normalised errors):', lora.join(', '));
    for (const g of grads) g.dA.dispose(), g.dB.dispose();
    for (const t of overrides.values()) t.dispose();
    for (const f of factors) f.A.dispose(), f.B.dispose();
    r.loss.dispose();
    model.dispose();
  }, 600_000);

  it("model M at full depth: the memory guard keeps the page's batch whole within the default limits", () => {
    const m1 = JSON.parse(readFileSync(`${BASE}/manifest.json`, 'utf8')).config as MMambaConfig;
    const cfg: MMambaConfig = { ...m1, layers: recipeLayers() };
    const B = DEFAULT_FINETUNE_OPTIONS.batchSize;
    const plan = planMemory(cfg, DEFAULT_LORA_CONFIG, B);
    const MiB = (b: number) => (b / 2 ** 20).toFixed(1);
    console.log(
      `model M (d ${cfg.d}, ${cfg.layers} layers) batch ${B}: largest binding ${MiB(plan.largestBindingBytes)} MiB, est. peak ${MiB(plan.estimatedPeakBytes)} MiB`,
    );
    expect(cfg.layers).toBeGreaterThan(1);
    expect(plan.fitsDefaultLimits).toBe(true);
    // the scan backward's workspace (two (B, K, L, di) planes and more) is the largest binding
    const L = cfg.text.max_len + cfg.grid * cfg.grid;
    expect(plan.largestBindingBytes).toBeGreaterThan(2 * B * cfg.directions * L * cfg.d * cfg.expand * 4);
    expect(plan.largestBindingBytes).toBeLessThanOrEqual(DEFAULT_MAX_BINDING_BYTES);
    expect(largestMicroBatch(cfg, DEFAULT_LORA_CONFIG, B)).toBe(B);
    // a batch whose workspace would pass the limit is split, not refused
    const m = largestMicroBatch(cfg, DEFAULT_LORA_CONFIG, 64);
    expect(m).toBeGreaterThanOrEqual(1);
    expect(m).toBeLessThan(64);
    expect(planMemory(cfg, DEFAULT_LORA_CONFIG, m + 1).fitsDefaultLimits).toBe(false);
  });
});
