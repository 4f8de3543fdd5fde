// Forward + masked-token loss + backward of the whole M-Mamba generator on the engine, for fine-tuning. The model is
// the one description of src/model/mmamba_assembly.ts (sizes, weight views, the layer sequence, shared with
// inference); this file adds the masked cross-entropy and the backward, with the kernels of docs/kernels_backward.md:
//   head (Linear, RMSNorm_w on the image rows) → layers last to first (mmamba_layer_backward.ts: each recomputed
//   from its kept input, FFN then mixer) → each layer's (B, 3d) modulation gradients through Linear(SiLU(c)) →
//   embeddings (img_emb, pos_emb) and the text encoder: its output projections here, its trunk (blocks, embeddings,
//   norms) in text_autodiff.ts, run only when one of the trunk's parameters is wanted.
// Memory: the forward keeps only each layer's input h_i (B, L, d) (activation checkpointing); the backward recomputes
// one layer at a time.
// `overrides` replace base weights for one call (the LoRA trainer passes W + s·B·A); gradients are returned for
// the parameter names in `want` only, each shaped like its parameter (d loss / d W_eff for an overridden weight).
import type { Engine } from '../engine/engine';
import { crossEntropyMasked } from '../engine/ops/cross_entropy';
import { add, silu } from '../engine/ops/elementwise';
import { siluBackward } from '../engine/ops/elementwise_backward';
import { embeddingBackward } from '../engine/ops/embedding_backward';
import { sumRows } from '../engine/ops/matmul_backward';
import { concatRows, sliceRows } from '../engine/ops/model_glue';
import { rmsNormBackward } from '../engine/ops/norm_backward';
import { ShapeError } from '../engine/errors';
import type { Tensor } from '../engine/tensor';
import { Scope, type MMambaConfig } from '../model/common';
import { MMambaAssembly } from '../model/mmamba_assembly';
import type { TextEncoder } from '../model/text_encoder';
import type { WeightMap } from '../model/weights';
import { MMambaLayerBackward } from './mmamba_layer_backward';
import { TextTrunkAutodiff, textTrunkParamNames } from './text_autodiff';

/** One batch, already masked (see masking.ts). All arrays row-major. */
export interface MaskedBatch {
  batch: number;
  textIds: ArrayLike<number>; // (B, Lt)
  /** (B, HW) model input: targets with masked positions set to [MASK] = codebook_size. */
  imgTokens: Uint32Array;
  targets: Uint32Array; //      (B, HW)
  /** (B, HW) 1 where the position is masked (the loss averages over these). */
  mask: Uint32Array;
}

export interface ForwardBackwardResult {
  /** (2) = [mean masked cross-entropy, masked count]. */
  loss: Tensor;
  /** name → d loss / d param, shaped like the parameter; only the names asked for. */
  grads: Map<string, Tensor>;
}

export class MMambaAutodiff {
  readonly text: TextEncoder;
  /** The model description shared with inference; its `overrides` are set for the duration of one call. */
  private readonly model: MMambaAssembly;
  private readonly layers: MMambaLayerBackward;
  private readonly textGrad: TextTrunkAutodiff;
  private readonly trunkNames: ReadonlySet<string>;

  constructor(
    private readonly e: Engine,
    readonly config: MMambaConfig,
    weights: WeightMap,
  ) {
    this.model = new MMambaAssembly(e, config, weights);
    this.text = this.model.text;
    this.layers = new MMambaLayerBackward(e, this.model);
    this.textGrad = new TextTrunkAutodiff(e, this.text, (n) => this.model.overrides.get(n));
    this.trunkNames = new Set(textTrunkParamNames(config.text));
  }

  /** The weight used for `name` in this call (an override, else the uploaded base weight). */
  private W(name: string): Tensor {
    return this.model.W(name);
  }

  // ---- whole model ---------------------------------------------------------------------------------------

  private forwardPass(inp: MaskedBatch, run: Scope, trunkGrads = false) {
    const e = this.e;
    const m = this.model;
    const { HW } = m.sizes;
    const B = inp.batch;
    if (inp.imgTokens.length !== B * HW || inp.targets.length !== B * HW || inp.mask.length !== B * HW)
      throw new ShapeError(`M-Mamba training batch: tokens, targets and mask must hold B·HW = ${B * HW} values`);
    const tr = this.textGrad.forward(inp.textIds, B, trunkGrads, run);
    // (B, Lt, d), (B, cond)
    const { tokens: txt, c: cvec } = this.text.project(tr.final, tr.pooled, (n) => m.overrides.get(n));
    run.t(txt);
    run.t(cvec);
    const sc = run.t(silu(e, cvec));
    const mods = m.modulations(sc); //                                                           (B, 3d) each
    for (const md of mods) for (const t of md.ffn ? [md.mix, md.ffn] : [md.mix]) run.t(t);
    const tok = run.t(e.fromArray([B, HW], inp.imgTokens, 'u32', 'img_tokens'));
    const hs = [m.embed(tok, txt, run)]; //                                                      (B, L, d)
    for (let i = 0; i < this.config.layers; i++) {
      const s = new Scope();
      const a = m.layer(i, hs[i]!, mods[i]!, s);
      s.dispose();
      hs.push(run.t(a.out)); // checkpoint: the only activation kept per layer
    }
    const { hi, hn, logits } = m.head(hs[this.config.layers]!, run); //                       (B, HW, K)
    return { tr, cvec, sc, mods, tok, hs, hi, hn, logits };
  }

  /** Forward only: logits (B, HW, codebook_size) and the masked loss (2) of the batch with the given overrides
   *  (validation and checks; the caller disposes both). */
  evaluate(inp: MaskedBatch, overrides?: ReadonlyMap<string, Tensor>): { logits: Tensor; loss: Tensor } {
    const e = this.e;
    const HW = this.config.grid * this.config.grid;
    this.model.overrides = overrides ?? new Map();
    const run = new Scope();
    try {
      const f = this.forwardPass(inp, run);
      const tgt = run.t(e.fromArray([inp.batch, HW], inp.targets, 'u32', 'targets'));
      const msk = run.t(e.fromArray([inp.batch, HW], inp.mask, 'u32', 'mask'));
      const ce = crossEntropyMasked(e, f.logits, tgt, msk);
      run.t(ce.dlogits);
      return { logits: f.logits, loss: ce.loss };
    } finally {
      run.dispose();
      this.model.overrides = new Map();
    }
  }

  /** The uploaded base weight `name` (owned by this object). */
  baseWeight(name: string): Tensor {
    return this.model.base(name);
  }

  /** Forward, masked cross-entropy, and backward to the parameters named in `want`. `lossScale` multiplies every
   *  gradient (d total / d this batch's mean loss, for micro-batch accumulation); the returned loss is unscaled. */
  forwardBackward(
    inp: MaskedBatch,
    want: ReadonlySet<string>,
    overrides?: ReadonlyMap<string, Tensor>,
    lossScale = 1,
  ): ForwardBackwardResult {
    const e = this.e;
    const c = this.config;
    const B = inp.batch;
    const { d } = c;
    const HW = c.grid * c.grid;
    const Lt = c.text.max_len;
    const grads = new Map<string, Tensor>();
    const run = new Scope();
    const keep = (n: string, t: Tensor | null) => {
      if (!t) return;
      if (want.has(n)) grads.set(n, t);
      else run.t(t);
    };
    this.model.overrides = overrides ?? new Map();
    try {
      const trunkGrads = [...want].some((n) => this.trunkNames.has(n));
      const f = this.forwardPass(inp, run, trunkGrads);
      run.t(f.logits);
      const tgt = run.t(e.fromArray([B, HW], inp.targets, 'u32', 'targets'));
      const msk = run.t(e.fromArray([B, HW], inp.mask, 'u32', 'mask'));
      const ce = crossEntropyMasked(e, f.logits, tgt, msk, lossScale);
      run.t(ce.dlogits);

      // head: logits = RMSNorm_w(h[:, Lt:])·W_head^T + b
      const hb = this.layers.linBack(f.hn, this.W('head.weight'), ce.dlogits, want.has('head.weight'));
      run.t(hb.dx!);
      keep('head.weight', hb.dW);
      if (want.has('head.bias')) grads.set('head.bias', sumRows(e, ce.dlogits));
      const nb = rmsNormBackward(e, f.hi, hb.dx!, { weight: this.W('head_norm.weight') });
      run.t(nb.dx);
      keep('head_norm.weight', nb.dWeight);
      let dh = concatRows(e, this.model.zeros([B, Lt, d]), nb.dx); //                                   (B, L, d)

      // layers, last to first; Σ of the modulation inputs' gradients d SiLU(c)
      let dsc: Tensor | null = null;
      for (let i = c.layers - 1; i >= 0; i--) {
        const r = this.layers.layerBackward(i, f.hs[i]!, f.mods[i]!, dh, want, grads);
        dh.dispose();
        dh = r.dh;
        const modGrads: Array<[string, Tensor | null]> = [
          [`layers.${i}.mod.proj.`, r.dmods.mix],
          [`layers.${i}.ffn_mod.proj.`, r.dmods.ffn],
        ];
        for (const [P, dmod] of modGrads) {
          if (!dmod) continue;
          const mb = this.layers.linBack(f.sc, this.W(`${P}weight`), dmod, want.has(`${P}weight`));
          keep(`${P}weight`, mb.dW);
          if (want.has(`${P}bias`)) grads.set(`${P}bias`, sumRows(e, dmod));
          dmod.dispose();
          if (dsc) {
            const sum: Tensor = add(e, dsc, mb.dx!);
            dsc.dispose();
            mb.dx!.dispose();
            dsc = sum;
          } else dsc = mb.dx!;
        }
      }
      run.t(dh);

      // embeddings: h_0 = [text tokens ; img_emb(tokens) (+ pos_emb)]
      const dimg = run.t(sliceRows(e, dh, Lt, HW)); //                                           (B, HW, d)
      if (want.has('img_emb.weight'))
        grads.set('img_emb.weight', embeddingBackward(e, f.tok, dimg, c.codebook_size + 1));
      if (c.pos_emb && want.has('pos_emb')) grads.set('pos_emb', this.layers.sumBatch(dimg, B, [HW, d], false));
      const dtxt = run.t(sliceRows(e, dh, 0, Lt)); //                                            (B, Lt, d)
      const tp = this.layers.linBack(
        f.tr.final,
        this.W('text.proj.weight'),
        dtxt,
        want.has('text.proj.weight'),
        trunkGrads,
      );
      keep('text.proj.weight', tp.dW);
      if (want.has('text.proj.bias')) grads.set('text.proj.bias', sumRows(e, dtxt));
      // c → SiLU → every layer's modulation
      const dc = run.t(siluBackward(e, f.cvec, run.t(dsc!))); //                                   (B, cond)
      const pp = this.layers.linBack(
        f.tr.pooled,
        this.W('text.pool_proj.weight'),
        dc,
        want.has('text.pool_proj.weight'),
        trunkGrads,
      );
      keep('text.pool_proj.weight', pp.dW);
      if (want.has('text.pool_proj.bias')) grads.set('text.pool_proj.bias', sumRows(e, dc));
      if (trunkGrads) this.textGrad.backward(f.tr, run.t(tp.dx!), run.t(pp.dx!), want, grads);
      return { loss: ce.loss, grads };
    } catch (err) {
      for (const t of grads.values()) t.dispose();
      throw err;
    } finally {
      run.dispose();
      this.model.overrides = new Map();
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}
