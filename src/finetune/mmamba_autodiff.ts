// Forward + masked-token loss + backward of the whole M-Mamba generator on the engine, for fine-tuning: the model of
// training/mmamba/mmamba.py (same fused ops as src/model/mmamba.ts) chained with the backward kernels of
// docs/kernels_backward.md. Memory: the forward keeps only each layer's input h_i (B, L, d) (activation
// checkpointing); the backward recomputes one layer's intermediates at a time from h_i and frees each right after
// its last reader (the peak, at the scan backward, holds only what is still to be read).
//
// Per layer (forward, as mmamba.ts):  u = RMSNorm(h)(1+scale)+shift;  x = u·W_x^T, z = u·W_z^T;
//   xs = SiLU(conv_k(x)) (B, K, L, di);  x_dbl = xs·x_proj_k^T (B·K, L, S);  dt = x_dbl[:, :, :R]·dt_proj_k^T;
//   y = Σ_k P_k⁻¹ scan_k (B, L, di);  g = LayerNorm(y)·SiLU(z);  o = g·W_out^T;  h' = h + gate·o
// Backward (reverse order): d gate = Σ_L dh'·o, do = gate·dh' → out_proj → (LayerNorm, SiLU(z) product rule) →
//   fused scan backward → dt_proj / x_proj (their dt columns join dBC) → conv (+ cross-scan scatter-add) → in_proj
//   → modulated RMSNorm (d shift, d scale) ; the layer's (B, 3d) modulation gradient goes through Linear(SiLU(c)).
// The text encoder: its output projections here, its trunk (blocks, embeddings, norms) in text_autodiff.ts, run only
// when one of the trunk's parameters is wanted.
// `overrides` replace base weights for one call (the LoRA trainer passes W + s·B·A); gradients are returned for
// the parameter names in `want` only, each shaped like its parameter (d loss / d W_eff for an overridden weight).
import type { Engine } from '../engine/engine';
import { causalConv1dCrossScanBackward } from '../engine/ops/conv1d_backward';
import { crossEntropyMasked } from '../engine/ops/cross_entropy';
import type { ScanGrid } from '../engine/ops/cross_scan_geom';
import { add, mul, silu } from '../engine/ops/elementwise';
import { siluBackward } from '../engine/ops/elementwise_backward';
import { embedding } from '../engine/ops/embedding';
import { embeddingBackward } from '../engine/ops/embedding_backward';
import { linear, matmul } from '../engine/ops/matmul';
import { sumRows } from '../engine/ops/matmul_backward';
import { concatRows, gatedResidual, sliceRows } from '../engine/ops/model_glue';
import { rmsNorm } from '../engine/ops/norm';
import { layerNormBackward, rmsNormBackward } from '../engine/ops/norm_backward';
import { selectiveScanFusedBackward } from '../engine/ops/selective_scan_backward';
import { ShapeError } from '../engine/errors';
import { Tensor } from '../engine/tensor';
import { dtRank, GpuParams, reshapeOwned, Scope, view, type MMambaConfig } from '../model/common';
import { mixerForward, type MixerActs, type MixerWeights } from '../model/mmamba_mixer';
import { mmambaParams } from '../model/params';
import { TextEncoder } from '../model/text_encoder';
import type { WeightMap } from '../model/weights';
import { InvalidFineTuneOptionsError } from './errors';
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

type LayerActs = MixerActs; // every intermediate of a layer (mmamba_mixer.ts); `out` is also owned by the scope

export class MMambaAutodiff {
  readonly text: TextEncoder;
  private readonly textGrad: TextTrunkAutodiff;
  private readonly trunkNames: ReadonlySet<string>;
  private readonly p: GpuParams;
  private readonly grid: ScanGrid;
  private readonly di: number;
  private readonly R: number;
  private readonly N: number;
  private readonly K: number;
  private readonly consts = new Map<string, Tensor>();
  private overrides: ReadonlyMap<string, Tensor> = new Map();

  constructor(
    private readonly e: Engine,
    readonly config: MMambaConfig,
    weights: WeightMap,
  ) {
    const c = config;
    if (c.ffn) throw new InvalidFineTuneOptionsError('fine-tuning does not support M-Mamba models with FFN sublayers (cfg.ffn) yet');
    this.text = new TextEncoder(e, c.text, c.d, c.cond_dim, weights);
    this.textGrad = new TextTrunkAutodiff(e, this.text, (n) => this.overrides.get(n));
    this.trunkNames = new Set(textTrunkParamNames(c.text.layers));
    this.p = new GpuParams(e, weights);
    for (const [name, shape] of mmambaParams(c)) this.p.get(name, shape);
    for (const n of ['proj.weight', 'proj.bias', 'pool_proj.weight', 'pool_proj.bias']) this.p.get('text.' + n);
    this.di = c.expand * c.d;
    this.R = dtRank(c);
    this.N = c.d_state;
    this.K = c.directions;
    this.grid = { textLen: c.text.max_len, grid: c.grid, directions: c.directions, textPosition: c.text_position };
  }

  /** The weight used for `name` in this call (an override, else the uploaded base weight). */
  private W(name: string): Tensor {
    return this.overrides.get(name) ?? this.p.get(name);
  }

  // ---- constants (cached, read-only) -------------------------------------------------------------------

  private constant(key: string, shape: number[], fill: (data: Float32Array) => void): Tensor {
    let t = this.consts.get(key);
    if (!t) {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      fill(data);
      t = this.e.fromArray(shape, data, 'f32', key);
      this.consts.set(key, t);
    }
    return t;
  }
  /** (1, n) of ones: a row vector that sums a batch of rows by matmul. */
  private ones(n: number): Tensor {
    return this.constant(`ones${n}`, [1, n], (d) => d.fill(1));
  }
  /** A zero tensor viewed with `shape` (never written). */
  private zeros(shape: number[]): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    return view(this.constant(`zeros${n}`, [n], () => {}), shape);
  }
  /** (R, S) = [I_R | 0]: moves a (…, R) gradient into the first R columns of a (…, S) one. */
  private eye(R: number, S: number): Tensor {
    return this.constant(`eye${R}x${S}`, [R, S], (d) => {
      for (let j = 0; j < R; j++) d[j * S + j] = 1;
    });
  }

  // ---- derived weights -----------------------------------------------------------------------------------

  /** in_proj (2di, d) split into its x and z row blocks (di, d) each. */
  private inProjHalves(i: number, s: Scope): [Tensor, Tensor] {
    const { d } = this.config;
    const di = this.di;
    const name = `layers.${i}.in_proj.weight`;
    const o = this.overrides.get(name);
    if (!o) {
      const host = this.p.host(name);
      return [
        this.p.derived(`${name}#x`, () => ({ shape: [di, d], data: host.slice(0, di * d) })),
        this.p.derived(`${name}#z`, () => ({ shape: [di, d], data: host.slice(di * d) })),
      ];
    }
    const w3 = view(o, [1, 2 * di, d]);
    return [view(s.t(sliceRows(this.e, w3, 0, di)), [di, d]), view(s.t(sliceRows(this.e, w3, di, di)), [di, d])];
  }

  /** A K-stacked weight (K, r, c) repeated over the batch → (B·K, r, c) for the batched matmul. */
  private tiled(name: string, B: number, s: Scope): Tensor {
    const w = this.W(name);
    if (B === 1) return w;
    const [K, r, c] = w.shape as [number, number, number];
    if (!this.overrides.has(name))
      return this.p.derived(`${name}#x${B}`, () => {
        const h = this.p.host(name);
        const data = new Float32Array(h.length * B);
        for (let b = 0; b < B; b++) data.set(h, b * h.length);
        return { shape: [B * K, r, c], data };
      });
    return s.t(add(this.e, this.zeros([B * K, r, c]), w)); // b broadcast over the leading axis
  }

  /** Σ over the leading B blocks of t (B·X elements) → a new tensor of `shape` (X elements); disposes t unless told. */
  private sumBatch(t: Tensor, B: number, shape: number[], disposeInput = true): Tensor {
    const X = t.size / B;
    const r = matmul(this.e, this.ones(B), view(t, [B, X]), { label: 'sum_batch' }); // (1, X)
    if (disposeInput) t.dispose();
    return reshapeOwned(this.e, r, shape);
  }

  // ---- building blocks -----------------------------------------------------------------------------------

  /** Linear backward without bias: dx (like x, unless needDx is false) and dW (N, K) when wanted. */
  private linBack(x: Tensor, W: Tensor, dy: Tensor, wantW: boolean, needDx = true): { dx: Tensor | null; dW: Tensor | null } {
    const e = this.e;
    const K = x.shape[x.shape.length - 1]!;
    const rows = x.size / K;
    const N = W.shape[0]!;
    const dy2 = view(dy, [rows, N]);
    const dx = needDx ? reshapeOwned(e, matmul(e, dy2, W, { label: 'linear_dx' }), [...x.shape]) : null;
    const dW = wantW ? matmul(e, dy2, view(x, [rows, K]), { transA: true, label: 'linear_dW' }) : null;
    return { dx, dW };
  }

  private layerForward(i: number, h: Tensor, mod: Tensor, B: number, s: Scope): LayerActs {
    const P = `layers.${i}.`;
    const W = (n: string) => this.W(P + n);
    const [inX, inZ] = this.inProjHalves(i, s);
    const w: MixerWeights = {
      inX, inZ, convW: W('conv_weight'), convB: W('conv_bias'),
      xProj: this.tiled(P + 'x_proj_weight', B, s), dtProj: this.tiled(P + 'dt_proj_weight', B, s),
      A_log: W('A_log'), D: W('D'), dtBias: W('dt_proj_bias'),
      outNormW: W('out_norm.weight'), outNormB: W('out_norm.bias'), outProj: W('out_proj.weight'),
    };
    const { di, R, N, K } = this;
    const a = mixerForward(this.e, h, mod, w, { d: this.config.d, di, R, N, K, grid: this.grid }, s);
    s.t(a.out);
    return a;
  }

  /** Recomputes layer i from its input h, then returns dh (B, L, d) and the modulation gradient dmod (B, 3d);
   *  the layer's parameter gradients that are wanted go into `grads`. */
  private layerBackward(
    i: number, h: Tensor, mod: Tensor, B: number, dOut: Tensor, want: ReadonlySet<string>, grads: Map<string, Tensor>,
  ): { dh: Tensor; dmod: Tensor } {
    const e = this.e;
    const { d } = this.config;
    const { di, R, N, K } = this;
    const L = h.shape[1]!;
    const S = R + 2 * N;
    const P = `layers.${i}.`;
    const W = (n: string) => this.W(P + n);
    const wants = (n: string) => want.has(P + n);
    const s = new Scope();
    const keep = (n: string, t: Tensor | null) => {
      if (!t) return;
      if (wants(n)) grads.set(P + n, t);
      else s.t(t);
    };
    const free = (...ts: Tensor[]) => ts.forEach((t) => t.dispose());
    const a = this.layerForward(i, h, mod, B, s);
    // Each recomputed activation and each intermediate gradient is released right after the last op that reads it
    // is recorded (the pool hands a buffer only to later work), so the peak, at the scan backward, holds only what
    // is still to be read. The scope frees the rest (disposing twice is a no-op).
    a.out.dispose(); // the layer's output itself is not needed

    // h' = h + gate·o
    const dO = s.t(gatedResidual(e, this.zeros([B, L, d]), { tensor: mod, offset: 2 * d }, dOut)); // gate·dh'  (B, L, d)
    const dgate = s.t(matmul(e, this.ones(L), s.t(mul(e, dOut, a.o)), { label: 'dgate' })); //      (B, 1, d)
    // o = g·W_out^T
    const ob = this.linBack(a.g, W('out_proj.weight'), dO, wants('out_proj.weight'));
    s.t(ob.dx!);
    keep('out_proj.weight', ob.dW);
    free(a.o, a.g, dO);
    // g = LayerNorm(y)·SiLU(z)
    const dyn = s.t(mul(e, ob.dx!, a.sz));
    const dz = s.t(siluBackward(e, a.z, s.t(mul(e, ob.dx!, a.yn))));
    free(ob.dx!, a.sz, a.yn, a.z);
    const ln = layerNormBackward(e, a.y, dyn, { weight: W('out_norm.weight'), bias: W('out_norm.bias') });
    s.t(ln.dx);
    keep('out_norm.weight', ln.dWeight);
    keep('out_norm.bias', ln.dBias);
    free(a.y, dyn);
    // fused cross-scan selective scan
    const sg = selectiveScanFusedBackward(
      e,
      { u: a.xs, delta: view(a.dt, [B, K, L, di]), A_log: W('A_log'), BC: view(a.xdbl, [B, K, L, S]), D: W('D'), deltaBias: W('dt_proj_bias'), bOffset: R, cOffset: R + N },
      ln.dx,
      this.grid,
    );
    s.t(sg.du);
    s.t(sg.ddelta);
    s.t(sg.dBC);
    keep('A_log', sg.dA_log);
    keep('D', sg.dD);
    keep('dt_proj_bias', sg.dDeltaBias);
    free(ln.dx, a.dt, a.xdbl);
    // dt = dtIn·dt_proj_k^T (batched over b, k)
    const ddt = view(sg.ddelta, [B * K, L, di]);
    const ddtIn = s.t(matmul(e, ddt, this.tiled(P + 'dt_proj_weight', B, s), { label: 'dt_proj_dx' })); // (B·K, L, R)
    if (wants('dt_proj_weight'))
      grads.set(P + 'dt_proj_weight', this.sumBatch(matmul(e, ddt, a.dtIn, { transA: true, label: 'dt_proj_dW' }), B, [K, di, R]));
    free(sg.ddelta, a.dtIn);
    // x_dbl gradient = dBC (B/C columns) + ddtIn placed in the dt columns
    const dxdblOwner = s.t(add(e, view(sg.dBC, [B * K * L, S]), s.t(matmul(e, view(ddtIn, [B * K * L, R]), this.eye(R, S)))));
    const dxdbl = view(dxdblOwner, [B * K, L, S]);
    free(sg.dBC, ddtIn);
    // x_dbl = xs·x_proj_k^T
    const dxsP = s.t(matmul(e, dxdbl, this.tiled(P + 'x_proj_weight', B, s), { label: 'x_proj_dx' })); // (B·K, L, di)
    if (wants('x_proj_weight'))
      grads.set(P + 'x_proj_weight', this.sumBatch(matmul(e, dxdbl, view(a.xs, [B * K, L, di]), { transA: true, label: 'x_proj_dW' }), B, [K, S, di]));
    free(dxdblOwner, a.xs);
    const dxs = s.t(add(e, sg.du, dxsP)); //                                                  (B, K, L, di)
    free(sg.du, dxsP);
    const cv = causalConv1dCrossScanBackward(e, a.x, W('conv_weight'), W('conv_bias'), dxs, this.grid, { silu: true });
    s.t(cv.dx);
    keep('conv_weight', cv.dWeight);
    keep('conv_bias', cv.dBias);
    free(a.x, dxs);
    // x, z = u·W_x^T, u·W_z^T
    const [Wx, Wz] = this.inProjHalves(i, s);
    const wantIn = wants('in_proj.weight');
    const bx = this.linBack(a.u, Wx, cv.dx, wantIn);
    const bz = this.linBack(a.u, Wz, dz, wantIn);
    s.t(bx.dx!);
    s.t(bz.dx!);
    if (wantIn) {
      const cat = concatRows(e, view(bx.dW!, [1, di, d]), view(bz.dW!, [1, di, d]));
      bx.dW!.dispose();
      bz.dW!.dispose();
      grads.set(P + 'in_proj.weight', reshapeOwned(e, cat, [2 * di, d]));
    }
    free(cv.dx, dz, a.u);
    const du = s.t(add(e, bx.dx!, bz.dx!));
    free(bx.dx!, bz.dx!);
    // u = RMSNorm(h)·(1 + scale) + shift
    const nb = rmsNormBackward(e, h, du, { shift: { tensor: mod, offset: 0 }, scale: { tensor: mod, offset: d } });
    s.t(nb.dMod!);
    s.t(nb.dx);
    const dh = add(e, dOut, nb.dx);
    const dmod = reshapeOwned(e, concatRows(e, view(nb.dMod!, [B, 2, d]), view(dgate, [B, 1, d])), [B, 3 * d]); // [d shift ; d scale ; d gate]
    s.dispose();
    return { dh, dmod };
  }

  // ---- whole model ---------------------------------------------------------------------------------------

  private forwardPass(inp: MaskedBatch, run: Scope, trunkGrads = false) {
    const e = this.e;
    const c = this.config;
    const B = inp.batch;
    const HW = c.grid * c.grid;
    const Lt = c.text.max_len;
    if (inp.imgTokens.length !== B * HW || inp.targets.length !== B * HW || inp.mask.length !== B * HW)
      throw new ShapeError(`M-Mamba training batch: tokens, targets and mask must hold B·HW = ${B * HW} values`);
    const tr = this.textGrad.forward(inp.textIds, B, trunkGrads, run);
    const txt = run.t(linear(e, tr.final, this.W('text.proj.weight'), this.W('text.proj.bias'), 'text_tokens')); // (B, Lt, d)
    const cvec = run.t(linear(e, tr.pooled, this.W('text.pool_proj.weight'), this.W('text.pool_proj.bias'), 'text_c')); // (B, cond)
    const sc = run.t(silu(e, cvec));
    const mods: Tensor[] = [];
    for (let i = 0; i < c.layers; i++)
      mods.push(run.t(linear(e, sc, this.W(`layers.${i}.mod.proj.weight`), this.W(`layers.${i}.mod.proj.bias`), 'adaln'))); // (B, 3d)
    const tok = run.t(e.fromArray([B, HW], inp.imgTokens, 'u32', 'img_tokens'));
    let x = run.t(embedding(e, tok, this.W('img_emb.weight'))); //                               (B, HW, d)
    if (c.pos_emb) x = run.t(add(e, x, this.W('pos_emb')));
    const hs = [run.t(concatRows(e, txt, x))]; //                                                 (B, L, d)
    for (let i = 0; i < c.layers; i++) {
      const s = new Scope();
      const a = this.layerForward(i, hs[i]!, mods[i]!, B, s);
      s.dispose([a.out]);
      hs.push(run.t(a.out)); // checkpoint: the only activation kept per layer
    }
    const hi = run.t(sliceRows(e, hs[c.layers]!, Lt, HW)); //                                    (B, HW, d)
    const hn = run.t(rmsNorm(e, hi, { weight: this.W('head_norm.weight') }));
    const logits = linear(e, hn, this.W('head.weight'), this.W('head.bias'), 'logits'); //       (B, HW, K)
    return { tr, cvec, sc, mods, tok, hs, hi, hn, logits };
  }

  /** Forward only: logits (B, HW, codebook_size) and the masked loss (2) of the batch with the given overrides
   *  (validation and checks; the caller disposes both). */
  evaluate(inp: MaskedBatch, overrides?: ReadonlyMap<string, Tensor>): { logits: Tensor; loss: Tensor } {
    const e = this.e;
    const HW = this.config.grid * this.config.grid;
    this.overrides = overrides ?? new Map();
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
      this.overrides = new Map();
    }
  }

  /** The uploaded base weight `name` (owned by this object). */
  baseWeight(name: string): Tensor {
    return this.trunkNames.has(name) ? this.text.weight(name.slice('text.'.length)) : this.p.get(name);
  }

  /** Forward, masked cross-entropy, and backward to the parameters named in `want`. `lossScale` multiplies every
   *  gradient (d total / d this batch's mean loss, for micro-batch accumulation); the returned loss is unscaled. */
  forwardBackward(inp: MaskedBatch, want: ReadonlySet<string>, overrides?: ReadonlyMap<string, Tensor>, lossScale = 1): ForwardBackwardResult {
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
    this.overrides = overrides ?? new Map();
    try {
      const trunkGrads = [...want].some((n) => this.trunkNames.has(n));
      const f = this.forwardPass(inp, run, trunkGrads);
      run.t(f.logits);
      const tgt = run.t(e.fromArray([B, HW], inp.targets, 'u32', 'targets'));
      const msk = run.t(e.fromArray([B, HW], inp.mask, 'u32', 'mask'));
      const ce = crossEntropyMasked(e, f.logits, tgt, msk, lossScale);
      run.t(ce.dlogits);

      // head: logits = RMSNorm_w(h[:, Lt:])·W_head^T + b
      const hb = this.linBack(f.hn, this.W('head.weight'), ce.dlogits, want.has('head.weight'));
      run.t(hb.dx!);
      keep('head.weight', hb.dW);
      if (want.has('head.bias')) grads.set('head.bias', sumRows(e, ce.dlogits));
      const nb = rmsNormBackward(e, f.hi, hb.dx!, { weight: this.W('head_norm.weight') });
      run.t(nb.dx);
      keep('head_norm.weight', nb.dWeight);
      let dh = concatRows(e, this.zeros([B, Lt, d]), nb.dx); //                                   (B, L, d)

      // layers, last to first; Σ of the modulation inputs' gradients d SiLU(c)
      let dsc: Tensor | null = null;
      for (let i = c.layers - 1; i >= 0; i--) {
        const r = this.layerBackward(i, f.hs[i]!, f.mods[i]!, B, dh, want, grads);
        dh.dispose();
        dh = r.dh;
        const P = `layers.${i}.mod.proj.`;
        const mb = this.linBack(f.sc, this.W(P + 'weight'), r.dmod, want.has(P + 'weight'));
        keep(P + 'weight', mb.dW);
        if (want.has(P + 'bias')) grads.set(P + 'bias', sumRows(e, r.dmod));
        r.dmod.dispose();
        if (dsc) {
          const sum: Tensor = add(e, dsc, mb.dx!);
          dsc.dispose();
          mb.dx!.dispose();
          dsc = sum;
        } else dsc = mb.dx!;
      }
      run.t(dh);

      // embeddings: h_0 = [text tokens ; img_emb(tokens) (+ pos_emb)]
      const dimg = run.t(sliceRows(e, dh, Lt, HW)); //                                           (B, HW, d)
      if (want.has('img_emb.weight')) grads.set('img_emb.weight', embeddingBackward(e, f.tok, dimg, c.codebook_size + 1));
      if (c.pos_emb && want.has('pos_emb')) grads.set('pos_emb', this.sumBatch(dimg, B, [HW, d], false));
      const dtxt = run.t(sliceRows(e, dh, 0, Lt)); //                                            (B, Lt, d)
      const tp = this.linBack(f.tr.final, this.W('text.proj.weight'), dtxt, want.has('text.proj.weight'), trunkGrads);
      keep('text.proj.weight', tp.dW);
      if (want.has('text.proj.bias')) grads.set('text.proj.bias', sumRows(e, dtxt));
      // c → SiLU → every layer's modulation
      const dc = run.t(siluBackward(e, f.cvec, run.t(dsc!))); //                                   (B, cond)
      const pp = this.linBack(f.tr.pooled, this.W('text.pool_proj.weight'), dc, want.has('text.pool_proj.weight'), trunkGrads);
      keep('text.pool_proj.weight', pp.dW);
      if (want.has('text.pool_proj.bias')) grads.set('text.pool_proj.bias', sumRows(e, dc));
      if (trunkGrads) this.textGrad.backward(f.tr, run.t(tp.dx!), run.t(pp.dx!), want, grads);
      return { loss: ce.loss, grads };
    } catch (err) {
      for (const t of grads.values()) t.dispose();
      throw err;
    } finally {
      run.dispose();
      this.overrides = new Map();
    }
  }

  dispose(): void {
    this.text.dispose();
    this.p.dispose();
    for (const t of this.consts.values()) t.dispose();
    this.consts.clear();
  }
}
