// Backward of the text encoder's trunk (src/model/text_encoder.ts, training/mmamba/text_encoder.py) for fine-tuning:
// from the gradients of its two outputs — the final LayerNorm's tokens (B, Lt, w) and their masked mean (B, w) —
// to the trunk's parameters. Memory as in mmamba_autodiff.ts: the forward keeps each block's input (B, Lt, w); the
// backward recomputes one block at a time (textLayerForward) and frees it.
// Per block, reverse order:  out = x1 + hid·W_2^T + b_2  →  hid = GELU(pre)  →  pre = LN2(x1)·W_0^T + b_0
//   → x1 = x + att·W_out^T + b_out  →  att = attention(qkv)  →  qkv = LN1(x)·W_qkv^T + b_qkv.
// The masked mean's backward spreads d pooled over the unmasked positions with weight 1 / count (count ≥ 1).
import type { Engine } from '../engine/engine';
import { selfAttentionPackedBackward } from '../engine/ops/attention_backward';
import { add } from '../engine/ops/elementwise';
import { geluBackward } from '../engine/ops/elementwise_backward';
import { embeddingBackward } from '../engine/ops/embedding_backward';
import { matmul } from '../engine/ops/matmul';
import { linearBackward } from '../engine/ops/matmul_backward';
import { layerNormBackward } from '../engine/ops/norm_backward';
import type { Tensor } from '../engine/tensor';
import { reshapeOwned, Scope, view, type TextConfig } from '../model/common';
import { textParams } from '../model/params';
import { textLayerForward, type TextEncoder } from '../model/text_encoder';

/** The trunk's activations kept by `forward` (all owned by the caller's scope). */
export interface TextTrunkActs {
  final: Tensor; //   (B, Lt, w)
  pooled: Tensor; //  (B, w)
  keyMask: Tensor; // u32 (B, Lt)
  /** Each block's input, then the final LayerNorm's input: layers + 1 tensors (B, Lt, w). */
  inputs: Tensor[];
  ids: ArrayLike<number>;
  B: number;
}

/** Names (with the 'text.' prefix) of the trunk's parameters: the text encoder's table (model/params.ts) but
 *  proj / pool_proj, in its order. */
export function textTrunkParamNames(cfg: TextConfig): string[] {
  const head = new Set(['text.proj.weight', 'text.proj.bias', 'text.pool_proj.weight', 'text.pool_proj.bias']);
  return [...textParams(cfg, 1, 1).keys()].filter((n) => !head.has(n)); // d and cond_dim only size proj / pool_proj
}

export class TextTrunkAutodiff {
  constructor(
    private readonly e: Engine,
    private readonly text: TextEncoder,
    /** Full parameter name → its adapted weight for this call, or undefined for the base weight. */
    private readonly override: (fullName: string) => Tensor | undefined,
  ) {}

  private W(name: string): Tensor {
    return this.text.weight(name, this.override);
  }

  /** The trunk's forward, keeping the block inputs when `keepInputs` (else the same as TextEncoder.trunk). */
  forward(ids: ArrayLike<number>, B: number, keepInputs: boolean, run: Scope): TextTrunkActs {
    const inputs: Tensor[] = [];
    const tr = this.text.trunk(ids, B, { weight: this.override, layerInputs: keepInputs ? inputs : undefined });
    for (const t of [tr.final, tr.pooled, tr.keyMask, ...inputs]) run.t(t);
    return { ...tr, inputs, ids, B };
  }

  /** Gradients of the trunk parameters named in `want` (full names) into `grads`, from dFinal (B, Lt, w) and
   *  dPooled (B, w). The inputs are not disposed. */
  backward(
    a: TextTrunkActs,
    dFinal: Tensor,
    dPooled: Tensor,
    want: ReadonlySet<string>,
    grads: Map<string, Tensor>,
  ): void {
    const e = this.e;
    const cfg = this.text.cfg;
    const { B } = a;
    const Lt = cfg.max_len;
    const w = cfg.width;
    const run = new Scope();
    const keep = (name: string, t: Tensor | null) => {
      if (!t) return;
      if (want.has(`text.${name}`)) grads.set(`text.${name}`, t);
      else run.t(t);
    };
    try {
      // pooled = Σ_t m_t·final_t / max(Σ m, 1): d final_t += m_t / max(Σ m, 1) · d pooled  (a (B, Lt, 1)·(B, 1, w)
      // matmul)
      const weights = new Float32Array(B * Lt);
      for (let b = 0; b < B; b++) {
        let n = 0;
        for (let t = 0; t < Lt; t++) n += a.ids[b * Lt + t] !== cfg.pad_id ? 1 : 0;
        for (let t = 0; t < Lt; t++) weights[b * Lt + t] = a.ids[b * Lt + t] !== cfg.pad_id ? 1 / Math.max(n, 1) : 0;
      }
      const wt = run.t(e.fromArray([B, Lt, 1], weights, 'f32', 'pool_weights'));
      const dSpread = run.t(matmul(e, wt, view(dPooled, [B, 1, w]), { label: 'masked_mean_backward' })); // (B, Lt, w)
      const dF = run.t(add(e, dFinal, dSpread));
      const fn = layerNormBackward(e, a.inputs[cfg.layers]!, dF, {
        weight: this.W('norm.weight'),
        bias: this.W('norm.bias'),
      });
      keep('norm.weight', fn.dWeight);
      keep('norm.bias', fn.dBias);
      let dx = fn.dx;
      for (let i = cfg.layers - 1; i >= 0; i--) {
        const next = this.layerBackward(i, a.inputs[i]!, a.keyMask, dx, keep);
        dx.dispose();
        dx = next;
      }
      run.t(dx);
      // A (vocab_size, w) table — large with a word prior (tens of thousands of rows) — so only when asked for;
      // LoRA never adapts the embedding (lora.ts), so fine-tuning runs skip it (tests/text_prior_finetune.test.ts).
      if (want.has('text.tok_emb.weight')) {
        const tIds = run.t(e.fromArray([B, Lt], Uint32Array.from(a.ids), 'u32', 'text_ids'));
        grads.set('text.tok_emb.weight', embeddingBackward(e, tIds, dx, cfg.vocab_size));
      }
      if (want.has('text.pos_emb')) {
        const ones = run.t(e.fromArray([1, B], new Float32Array(B).fill(1), 'f32', 'ones'));
        const sum = matmul(e, ones, view(dx, [B, Lt * w]), { label: 'pos_emb_grad' }); // (1, Lt·w)
        grads.set('text.pos_emb', reshapeOwned(e, sum, [Lt, w]));
      }
    } finally {
      run.dispose();
    }
  }

  /** Recomputes block i from its input x and returns d x (the caller owns it); parameter gradients go to `keep`. */
  private layerBackward(
    i: number,
    x: Tensor,
    keyMask: Tensor,
    dOut: Tensor,
    keep: (name: string, t: Tensor | null) => void,
  ): Tensor {
    const e = this.e;
    const P = `layers.${i}.`;
    const W = (n: string) => this.W(P + n);
    const s = new Scope();
    try {
      const a = textLayerForward(e, x, keyMask, W, this.text.cfg.heads, s);
      // out = x1 + hid·W_2^T + b_2
      const m2 = linearBackward(e, a.hid, W('mlp.2.weight'), dOut, { bias: true });
      keep(`${P}mlp.2.weight`, m2.dW);
      keep(`${P}mlp.2.bias`, m2.dBias);
      const dpre = s.t(geluBackward(e, a.pre, s.t(m2.dx!)));
      const m0 = linearBackward(e, a.n2, W('mlp.0.weight'), dpre, { bias: true });
      keep(`${P}mlp.0.weight`, m0.dW);
      keep(`${P}mlp.0.bias`, m0.dBias);
      const n2 = layerNormBackward(e, a.x1, s.t(m0.dx!), { weight: W('norm2.weight'), bias: W('norm2.bias') });
      keep(`${P}norm2.weight`, n2.dWeight);
      keep(`${P}norm2.bias`, n2.dBias);
      const dx1 = s.t(add(e, dOut, s.t(n2.dx)));
      // x1 = x + att·W_out^T + b_out;  att = attention(qkv);  qkv = LN1(x)·W_qkv^T + b_qkv
      const ao = linearBackward(e, a.att, W('attn.out.weight'), dx1, { bias: true });
      keep(`${P}attn.out.weight`, ao.dW);
      keep(`${P}attn.out.bias`, ao.dBias);
      const dqkv = s.t(
        selfAttentionPackedBackward(e, a.qkv, a.att, s.t(ao.dx!), this.text.cfg.heads, { mask: keyMask }),
      );
      const aq = linearBackward(e, a.n1, W('attn.qkv.weight'), dqkv, { bias: true });
      keep(`${P}attn.qkv.weight`, aq.dW);
      keep(`${P}attn.qkv.bias`, aq.dBias);
      const n1 = layerNormBackward(e, x, s.t(aq.dx!), { weight: W('norm1.weight'), bias: W('norm1.bias') });
      keep(`${P}norm1.weight`, n1.dWeight);
      keep(`${P}norm1.bias`, n1.dBias);
      return add(e, dx1, s.t(n1.dx));
    } finally {
      s.dispose();
    }
  }
}
