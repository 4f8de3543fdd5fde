// M-Mamba generator on the engine, as training/mmamba/mmamba.py: the inference side of the one model description
// in mmamba_assembly.ts (sizes, weight views, the layer sequence), keeping only each piece's output. The mixer runs
// the fused cross-scan path of docs/kernels-ssm-vq.md (mmamba_mixer.ts) — nothing is permuted in memory.
// The per-layer modulations depend only on the text: computed once per generation (encodeText).
import type { Engine } from '../engine/engine';
import { silu } from '../engine/ops/elementwise';
import { ShapeError } from '../engine/errors';
import type { Tensor } from '../engine/tensor';
import { Scope, type MMambaConfig } from './common';
import { defaultFusions, type Fusions } from './fusions';
import type { Generator, TextCondition } from './generator';
import { MMambaAssembly, type LayerMods } from './mmamba_assembly';
import type { ScanKernel } from './mmamba_mixer';
import type { TextEncoder } from './text_encoder';
import type { WeightMap } from './weights';

class MMambaCondition implements TextCondition {
  constructor(
    readonly batch: number,
    readonly tokens: Tensor,
    readonly c: Tensor,
    readonly keyMask: Tensor,
    /** Per layer: adaLN output (B, 3d), and the FFN's (B, 3d) when cfg.ffn. */
    readonly mods: LayerMods[],
  ) {}
  dispose(): void {
    for (const t of [
      this.tokens,
      this.c,
      this.keyMask,
      ...this.mods.flatMap((m) => (m.ffn ? [m.mix, m.ffn] : [m.mix])),
    ])
      t.dispose();
  }
}

export class MMamba implements Generator {
  readonly kind = 'mmamba' as const;
  readonly text: TextEncoder;
  private readonly model: MMambaAssembly;
  /** The mixers' scan kernel: 'fused' (default) or 'chunked' (a candidate; bench/generate --scan chunked);
   *  fusions.chunkedScan on runs 'chunked' whatever this says. */
  scanKernel: ScanKernel = 'fused';
  /** Inference fusions (fusions.ts); all on by default, switched off one at a time by the latency benchmark. */
  fusions: Fusions = defaultFusions();

  constructor(
    private readonly e: Engine,
    readonly config: MMambaConfig,
    weights: WeightMap,
  ) {
    this.model = new MMambaAssembly(e, config, weights);
    this.text = this.model.text;
  }

  encodeText(ids: ArrayLike<number>, B: number): TextCondition {
    const t = this.text.forward(ids, B);
    const sc = silu(this.e, t.c); // (B, cond_dim)
    const mods = this.model.modulations(sc);
    sc.dispose();
    return new MMambaCondition(B, t.tokens, t.c, t.keyMask, mods);
  }

  logits(tokens: Tensor, cond: TextCondition, stages?: Map<string, Tensor>): Tensor {
    const { HW } = this.model.sizes;
    const cnd = cond as MMambaCondition;
    const B = cnd.batch;
    if (tokens.dtype !== 'u32' || tokens.shape.join() !== [B, HW].join())
      throw new ShapeError(`mmamba: tokens ${tokens} must be u32 (B=${B}, HW=${HW})`);
    const keep: Tensor[] = [];
    const s = new Scope();
    let h = this.model.embed(tokens, cnd.tokens, s); //                  (B, L, d)
    const scan = this.fusions.chunkedScan ? 'chunked' : this.scanKernel; // the chunkedScan fusion overrides
    if (stages) stages.set('embed', h), keep.push(h);
    for (let i = 0; i < this.config.layers; i++) {
      const ls = new Scope();
      h = s.t(this.model.layerInfer(i, h, cnd.mods[i]!, ls, scan, this.fusions));
      ls.dispose();
      if (stages) stages.set(`layer${i}`, h), keep.push(h);
    }
    const out = this.model.headInfer(h, s, this.fusions); // (B, HW, K)
    s.dispose(keep);
    return out;
  }

  dispose(): void {
    this.model.dispose();
  }
}
