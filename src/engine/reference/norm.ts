// CPU references for shaders/norm.wgsl: RMSNorm and LayerNorm over the last dim in f64, with optional affine
// weight/bias and adaptive modulation y·(1 + scale[b]) + shift[b] (scale/shift (B, D), x (B, L, D)).

export interface NormRefArgs {
  D: number;
  /** rows per batch, for the modulation (x is (B, L, D)). */
  L?: number;
  weight?: Float32Array | null;
  bias?: Float32Array | null;
  scale?: Float32Array | null;
  shift?: Float32Array | null;
  eps: number;
}

function norm(x: Float32Array, o: NormRefArgs, layer: boolean): Float32Array {
  const { D } = o;
  const rows = x.length / D;
  const L = o.L ?? rows;
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * D, (r + 1) * D);
    let mean = 0;
    if (layer) {
      for (const v of row) mean += v;
      mean /= D;
    }
    let q = 0;
    for (const v of row) q += (v - mean) ** 2;
    const inv = 1 / Math.sqrt(q / D + o.eps);
    const b = Math.floor(r / L);
    for (let i = 0; i < D; i++) {
      let v = (row[i]! - mean) * inv;
      if (o.weight) v *= o.weight[i]!;
      if (o.bias) v += o.bias[i]!;
      if (o.scale && o.shift) v = v * (1 + o.scale[b * D + i]!) + o.shift[b * D + i]!;
      out[r * D + i] = v;
    }
  }
  return out;
}

export const rmsNormRef = (x: Float32Array, o: NormRefArgs): Float32Array => norm(x, { ...o, bias: null }, false);
export const layerNormRef = (x: Float32Array, o: NormRefArgs): Float32Array => norm(x, o, true);
