// Backward of one M-Mamba layer for fine-tuning (src/finetune/mmamba_autodiff.ts): the layer is recomputed from its
// input with the model description's own forward (src/model/mmamba_assembly.ts `layer`), then walked backwards with
// the kernels of docs/kernels_backward.md — the FFN sublayer when the config has one (gate, w_out, GEGLU, w_in, its
// modulated RMSNorm), then the mixer (gate, out_proj, LayerNorm·SiLU(z), fused scan, dt_proj / x_proj with the dt
// columns moved into dBC by an [I | 0] matmul, conv + cross-scan scatter, in_proj, modulated RMSNorm). Each
// recomputed activation and intermediate gradient is freed right after its last reader, so the peak, at the scan
// backward, holds only what is still to be read.
// Forward, per layer (mmamba_assembly.ts):  u = RMSNorm(h)(1+scale)+shift;  x = u·W_x^T, z = u·W_z^T;
//   xs = SiLU(conv_k(x)) (B, K, L, di);  x_dbl = xs·x_proj_k^T (B·K, L, S);  dt = x_dbl[:, :, :R]·dt_proj_k^T;
//   y = Σ_k P_k⁻¹ scan_k (B, L, di);  g = LayerNorm(y)·SiLU(z);  o = g·W_out^T;  m = h + gate·o
//   with cfg.ffn:  f = RMSNorm(m)(1+scale')+shift';  h' = m + gate'·(GEGLU(f·W_in^T + b)·W_out'^T + b')  else h' = m
// Also the small linear-algebra helpers (linBack, sumBatch) the whole-model backward uses.
import type { Engine } from '../engine/engine';
import { causalConv1dCrossScanBackward } from '../engine/ops/conv1d_backward';
import { add, mul } from '../engine/ops/elementwise';
import { gegluBackward, siluBackward } from '../engine/ops/elementwise_backward';
import { matmul } from '../engine/ops/matmul';
import { sumRows } from '../engine/ops/matmul_backward';
import { concatRows, gatedResidual } from '../engine/ops/model_glue';
import { layerNormBackward, rmsNormBackward } from '../engine/ops/norm_backward';
import { selectiveScanFusedBackward } from '../engine/ops/selective_scan_backward';
import type { Tensor } from '../engine/tensor';
import { reshapeOwned, Scope, view } from '../model/common';
import type { AdaLnFfnActs } from '../model/generator_blocks';
import type { LayerMods, MMambaAssembly } from '../model/mmamba_assembly';
import type { MixerActs } from '../model/mmamba_mixer';

/** Releases activations / gradients right after the last op that reads them is recorded (the pool hands a buffer
 *  only to later work); the owning scope's later dispose is then a no-op. */
const free = (...ts: Tensor[]): void =>
  ts.forEach((t) => {
    t.dispose();
  });

/** Gradients of one layer's modulations (B, 3d) = [d shift ; d scale ; d gate] (the caller owns them). */
export interface LayerModGrads {
  mix: Tensor;
  ffn: Tensor | null;
}

export class MMambaLayerBackward {
  constructor(
    private readonly e: Engine,
    private readonly model: MMambaAssembly,
  ) {}

  /** The weight used for `name` in this call (an override, else the uploaded base weight). */
  private W(name: string): Tensor {
    return this.model.W(name);
  }

  // ---- constants (cached, read-only) -------------------------------------------------------------------

  /** (1, n) of ones: a row vector that sums a batch of rows by matmul. */
  private ones(n: number): Tensor {
    return this.model.constant(`ones${n}`, [1, n], (d) => d.fill(1));
  }
  /** (R, S) = [I_R | 0]: moves a (…, R) gradient into the first R columns of a (…, S) one. */
  private eye(R: number, S: number): Tensor {
    return this.model.constant(`eye${R}x${S}`, [R, S], (d) => {
      for (let j = 0; j < R; j++) d[j * S + j] = 1;
    });
  }

  /** Σ over the leading B blocks of t (B·X elements) → a new tensor of `shape` (X elements); disposes t unless told. */
  sumBatch(t: Tensor, B: number, shape: number[], disposeInput = true): Tensor {
    const X = t.size / B;
    const r = matmul(this.e, this.ones(B), view(t, [B, X]), { label: 'sum_batch' }); // (1, X)
    if (disposeInput) t.dispose();
    return reshapeOwned(this.e, r, shape);
  }

  // ---- building blocks -----------------------------------------------------------------------------------

  /** Linear backward without bias: dx (like x, unless needDx is false) and dW (N, K) when wanted. */
  linBack(x: Tensor, W: Tensor, dy: Tensor, wantW: boolean, needDx = true): { dx: Tensor | null; dW: Tensor | null } {
    const e = this.e;
    const K = x.shape[x.shape.length - 1]!;
    const rows = x.size / K;
    const N = W.shape[0]!;
    const dy2 = view(dy, [rows, N]);
    const dx = needDx ? reshapeOwned(e, matmul(e, dy2, W, { label: 'linear_dx' }), [...x.shape]) : null;
    const dW = wantW ? matmul(e, dy2, view(x, [rows, K]), { transA: true, label: 'linear_dW' }) : null;
    return { dx, dW };
  }

  /** A parameter gradient's destination: `grads` under P + name when it is wanted, else the scope (freed). */
  private gradSink(P: string, want: ReadonlySet<string>, grads: Map<string, Tensor>, s: Scope) {
    return (name: string, t: Tensor | null): void => {
      if (!t) return;
      if (want.has(P + name)) grads.set(P + name, t);
      else s.t(t);
    };
  }

  /** Backward of out = h + gate·o with gate = mod[:, 2d:3d]: do = gate·d out (B, L, d) and d gate (B, 1, d),
   *  both in the scope. */
  private gatedResidualBackward(mod: Tensor, o: Tensor, dOut: Tensor, s: Scope): { dO: Tensor; dgate: Tensor } {
    const e = this.e;
    const [B, L, d] = dOut.shape as [number, number, number];
    const dO = s.t(gatedResidual(e, this.model.zeros([B, L, d]), { tensor: mod, offset: 2 * d }, dOut));
    const dgate = s.t(matmul(e, this.ones(L), s.t(mul(e, dOut, o)), { label: 'dgate' }));
    return { dO, dgate };
  }

  /** [d shift ; d scale] (B, 2d) and d gate (B, 1, d) → the modulation gradient (B, 3d) (the caller owns it). */
  private packModGrad(dMod: Tensor, dgate: Tensor): Tensor {
    const [B, twoD] = dMod.shape as [number, number];
    const d = twoD / 2;
    return reshapeOwned(this.e, concatRows(this.e, view(dMod, [B, 2, d]), view(dgate, [B, 1, d])), [B, 3 * d]);
  }

  /** Recomputes layer i from its input h and returns dh (B, L, d) and its modulation gradients; the layer's wanted
   *  parameter gradients go into `grads`. */
  layerBackward(
    i: number,
    h: Tensor,
    mods: LayerMods,
    dOut: Tensor,
    want: ReadonlySet<string>,
    grads: Map<string, Tensor>,
  ): { dh: Tensor; dmods: LayerModGrads } {
    const s = new Scope();
    try {
      const a = this.model.layer(i, h, mods, s);
      // Each recomputed activation and each intermediate gradient is released right after the last op that reads
      // it is recorded (the pool hands a buffer only to later work), so the peak, at the scan backward, holds only
      // what is still to be read. The scope frees the rest (disposing twice is a no-op).
      a.out.dispose(); // the layer's output itself is not needed
      if (!a.ffn) {
        const m = this.mixerBackward(i, h, mods.mix, a.mixer, dOut, want, grads);
        return { dh: m.dh, dmods: { mix: m.dmod, ffn: null } };
      }
      const f = this.ffnBackward(i, a.mixer.out, mods.ffn!, a.ffn, dOut, want, grads);
      const m = this.mixerBackward(i, h, mods.mix, a.mixer, f.dh, want, grads);
      f.dh.dispose();
      return { dh: m.dh, dmods: { mix: m.dmod, ffn: f.dmod } };
    } finally {
      s.dispose();
    }
  }

  /** Backward of the FFN sublayer h' = m + gate'·FFN(RMSNorm(m)(1+scale')+shift') of layer i from its recomputed
   *  activations: dm (B, L, d) and the modulation gradient (B, 3d) (the caller owns both). */
  private ffnBackward(
    i: number,
    m: Tensor,
    mod: Tensor,
    a: AdaLnFfnActs,
    dOut: Tensor,
    want: ReadonlySet<string>,
    grads: Map<string, Tensor>,
  ): { dh: Tensor; dmod: Tensor } {
    const e = this.e;
    const P = `layers.${i}.ffn.`;
    const W = (n: string) => this.W(P + n);
    const s = new Scope();
    const keep = this.gradSink(P, want, grads, s);
    const bias = (n: string, dy: Tensor) => {
      if (want.has(P + n)) grads.set(P + n, sumRows(e, dy));
    };
    try {
      const { dO, dgate } = this.gatedResidualBackward(mod, a.fo, dOut, s);
      free(a.fo);
      // fo = hid·W_out^T + b
      const ob = this.linBack(a.hid, W('w_out.weight'), dO, want.has(`${P}w_out.weight`));
      keep('w_out.weight', ob.dW);
      bias('w_out.bias', dO);
      free(a.hid, dO);
      // hid = GEGLU(pre);  pre = u·W_in^T + b
      const dpre = s.t(gegluBackward(e, a.pre, s.t(ob.dx!)));
      free(a.pre, ob.dx!);
      const ib = this.linBack(a.u, W('w_in.weight'), dpre, want.has(`${P}w_in.weight`));
      keep('w_in.weight', ib.dW);
      bias('w_in.bias', dpre);
      free(a.u, dpre);
      // u = RMSNorm(m)·(1 + scale') + shift'
      const nb = rmsNormBackward(e, m, s.t(ib.dx!), {
        shift: { tensor: mod, offset: 0 },
        scale: { tensor: mod, offset: m.shape[2]! },
      });
      s.t(nb.dMod!);
      free(m, ib.dx!); // m, the mixer's output, has no reader in the mixer's backward
      return { dh: add(e, dOut, s.t(nb.dx)), dmod: this.packModGrad(nb.dMod!, dgate) };
    } finally {
      s.dispose();
    }
  }

  /** Backward of the mixer sublayer m = h + gate·mixer(h) of layer i from its recomputed activations `a` (freed here
   *  as soon as they are read): dh (B, L, d) and the modulation gradient (B, 3d) (the caller owns both). */
  private mixerBackward(
    i: number,
    h: Tensor,
    mod: Tensor,
    a: MixerActs,
    dOut: Tensor,
    want: ReadonlySet<string>,
    grads: Map<string, Tensor>,
  ): { dh: Tensor; dmod: Tensor } {
    const e = this.e;
    const { d, di, R, N, K, S, grid } = this.model.sizes;
    const B = h.shape[0]!;
    const L = h.shape[1]!;
    const P = `layers.${i}.`;
    const W = (n: string) => this.W(P + n);
    const wants = (n: string) => want.has(P + n);
    const s = new Scope();
    const keep = this.gradSink(P, want, grads, s);

    // m = h + gate·o
    const { dO, dgate } = this.gatedResidualBackward(mod, a.o, dOut, s); // gate·dm (B, L, d), d gate (B, 1, d)
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
      {
        u: a.xs,
        delta: view(a.dt, [B, K, L, di]),
        A_log: W('A_log'),
        BC: view(a.xdbl, [B, K, L, S]),
        D: W('D'),
        deltaBias: W('dt_proj_bias'),
        bOffset: R,
        cOffset: R + N,
      },
      ln.dx,
      grid,
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
    // (B·K, L, R)
    const ddtIn = s.t(matmul(e, ddt, this.model.tiled(`${P}dt_proj_weight`, B, s), { label: 'dt_proj_dx' }));
    if (wants('dt_proj_weight'))
      grads.set(
        `${P}dt_proj_weight`,
        this.sumBatch(matmul(e, ddt, a.dtIn, { transA: true, label: 'dt_proj_dW' }), B, [K, di, R]),
      );
    free(sg.ddelta, a.dtIn);
    // x_dbl gradient = dBC (B/C columns) + ddtIn placed in the dt columns
    const dxdblOwner = s.t(
      add(e, view(sg.dBC, [B * K * L, S]), s.t(matmul(e, view(ddtIn, [B * K * L, R]), this.eye(R, S)))),
    );
    const dxdbl = view(dxdblOwner, [B * K, L, S]);
    free(sg.dBC, ddtIn);
    // x_dbl = xs·x_proj_k^T
    // (B·K, L, di)
    const dxsP = s.t(matmul(e, dxdbl, this.model.tiled(`${P}x_proj_weight`, B, s), { label: 'x_proj_dx' }));
    if (wants('x_proj_weight'))
      grads.set(
        `${P}x_proj_weight`,
        this.sumBatch(matmul(e, dxdbl, view(a.xs, [B * K, L, di]), { transA: true, label: 'x_proj_dW' }), B, [
          K,
          S,
          di,
        ]),
      );
    free(dxdblOwner, a.xs);
    const dxs = s.t(add(e, sg.du, dxsP)); //                                                  (B, K, L, di)
    free(sg.du, dxsP);
    const cv = causalConv1dCrossScanBackward(e, a.x, W('conv_weight'), W('conv_bias'), dxs, grid, { silu: true });
    s.t(cv.dx);
    keep('conv_weight', cv.dWeight);
    keep('conv_bias', cv.dBias);
    free(a.x, dxs);
    // x, z = u·W_x^T, u·W_z^T
    const [Wx, Wz] = this.model.inProj(i, s);
    const wantIn = wants('in_proj.weight');
    const bx = this.linBack(a.u, Wx, cv.dx, wantIn);
    const bz = this.linBack(a.u, Wz, dz, wantIn);
    s.t(bx.dx!);
    s.t(bz.dx!);
    if (wantIn) {
      const cat = concatRows(e, view(bx.dW!, [1, di, d]), view(bz.dW!, [1, di, d]));
      bx.dW!.dispose();
      bz.dW!.dispose();
      grads.set(`${P}in_proj.weight`, reshapeOwned(e, cat, [2 * di, d]));
    }
    free(cv.dx, dz, a.u);
    const du = s.t(add(e, bx.dx!, bz.dx!));
    free(bx.dx!, bz.dx!);
    // u = RMSNorm(h)·(1 + scale) + shift
    const nb = rmsNormBackward(e, h, du, { shift: { tensor: mod, offset: 0 }, scale: { tensor: mod, offset: d } });
    s.t(nb.dMod!);
    s.t(nb.dx);
    const dh = add(e, dOut, nb.dx);
    const dmod = this.packModGrad(nb.dMod!, dgate); // [d shift ; d scale ; d gate]
    s.dispose();
    return { dh, dmod };
  }
}
