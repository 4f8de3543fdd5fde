// CPU reference for shaders/norm_backward.wgsl, in f64: RMSNorm / LayerNorm with affine weight/bias and adaptive
// modulation y = (x̂·w + b)·(1 + scale[b]) + shift[b], forward (f64, for finite differences) and backward.
// x, dy (B·L, D); scale, shift (B, D). Gradients as the shader's header.
type Arr = ArrayLike<number>;

export interface NormArgs64 {
  D: number;
  L: number;
  layer: boolean;
  eps: number;
  weight?: Arr | null;
  bias?: Arr | null;
  scale?: Arr | null;
  shift?: Arr | null;
}

function rowStats(x: Arr, r: number, o: NormArgs64): [number, number] {
  let mean = 0;
  if (o.layer) {
    for (let i = 0; i < o.D; i++) mean += x[r * o.D + i]!;
    mean /= o.D;
  }
  let q = 0;
  for (let i = 0; i < o.D; i++) q += (x[r * o.D + i]! - mean) ** 2;
  return [mean, 1 / Math.sqrt(q / o.D + o.eps)];
}

export function norm64(x: Arr, o: NormArgs64): Float64Array {
  const rows = x.length / o.D;
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const [mean, inv] = rowStats(x, r, o);
    const b = Math.floor(r / o.L);
    for (let i = 0; i < o.D; i++) {
      let v = (x[r * o.D + i]! - mean) * inv * (o.weight ? o.weight[i]! : 1) + (o.bias ? o.bias[i]! : 0);
      if (o.scale && o.shift) v = v * (1 + o.scale[b * o.D + i]!) + o.shift[b * o.D + i]!;
      y[r * o.D + i] = v;
    }
  }
  return y;
}

export interface NormGrads64 {
  dx: Float64Array;
  dWeight: Float64Array;
  dBias: Float64Array;
  dShift: Float64Array; // (B, D)
  dScale: Float64Array; // (B, D)
}

export function normBackwardRef(x: Arr, dy: Arr, o: NormArgs64): NormGrads64 {
  const { D, L } = o;
  const rows = x.length / D;
  const Bsz = Math.ceil(rows / L);
  const g: NormGrads64 = {
    dx: new Float64Array(x.length),
    dWeight: new Float64Array(D),
    dBias: new Float64Array(D),
    dShift: new Float64Array(Bsz * D),
    dScale: new Float64Array(Bsz * D),
  };
  const gx = new Float64Array(D);
  for (let r = 0; r < rows; r++) {
    const [mean, inv] = rowStats(x, r, o);
    const b = Math.floor(r / L);
    let m1 = 0;
    let m2 = 0;
    for (let i = 0; i < D; i++) {
      const xh = (x[r * D + i]! - mean) * inv;
      const w = o.weight ? o.weight[i]! : 1;
      let d = dy[r * D + i]!;
      if (o.scale) {
        g.dShift[b * D + i] += d;
        g.dScale[b * D + i] += d * (xh * w + (o.bias ? o.bias[i]! : 0));
        d *= 1 + o.scale[b * D + i]!;
      }
      g.dWeight[i] += d * xh;
      g.dBias[i] += d;
      gx[i] = d * w;
      m1 += gx[i]! / D;
      m2 += (gx[i]! * xh) / D;
    }
    for (let i = 0; i < D; i++) {
      const xh = (x[r * D + i]! - mean) * inv;
      g.dx[r * D + i] = inv * (gx[i]! - (o.layer ? m1 : 0) - xh * m2);
    }
  }
  return g;
}
