// 2-D convolution, NCHW (PyTorch's layout: images, VQ activations and weights (Cout, Cin, k, k) need no
// transposes), square kernel k ∈ {1, 3}, stride ∈ {1, 2}, zero padding, bias, and an optional fused nearest ×2
// upsample of the input (UP = 1: the conv reads x[iy/2][ix/2] of a virtual 2H × 2W input, as
// F.conv2d(F.interpolate(x, scale_factor=2, mode='nearest')) in the VQ decoder, without materialising it).
//   out[b, o, y, x] = bias[o] + Σ_{c, i, j} w[o, c, i, j] · in[b, c, y·s − pad + i, x·s − pad + j]  (+ res[b, o, y, x])
// Inference fusions of the VQ decoder (src/model/fusions.ts), each removing a dispatch:
//   NORM = 1: in = SiLU(GroupNorm(x)), applied while staging: (x − mean)·rstd·gamma[c] + beta[c] with the
//             per-(b, group) stats (B·G, 2) = (mean, rstd) of groupnorm.wgsl `stats_main`, then SiLU; the zero
//             padding stays zero (it pads the normalised input, as in PyTorch).
//   RES = 1:  the residual res (B, Cout, Ho, Wo) added after the bias (the ResBlock's skip + h).
// Tiling: a workgroup of TW × TH = 16 × 8 threads computes a TW × (TH·PY) output tile for COB = 8 output
// channels; each thread PY ∈ {1, 2} pixels (rows y and y + TH) × COB channels, as two vec4 accumulators per pixel.
// Small tiles (the vqSmallTiles fusion, for small outputs): TW = TH = 8 and COB = 4 (one vec4 per pixel), 4× the
// workgroups of the default tile for the same output.
// Input channels go in chunks of CIC: the tile's input (with halo) and the COB × CIC × k² weights (vec4 over
// output channels) are staged in workgroup memory, so each input value is fetched once per tile and reused by
// COB output channels × k² taps (× PY rows). The staged input is packed at its used extent ph × pw; the largest,
// PY = 2 at stride 2 (33 × 33 per channel), takes CIC = 2 so that it fits TILE = 4·17·33 floats (≤ 16 KiB in all).

override TW: u32 = 16u;     // 16 or 8 (TW · TH ≤ 128; the staged extents stay within TILE)
override TH: u32 = 8u;      // 8
override COB: u32 = 8u;     // output channels per workgroup: 8 or 4
const CICMAX: u32 = 4u;
const TILE: u32 = 2244u;    // CICMAX · 17 · 33: PY = 1 at stride 2 with CIC = 4 (the largest case)
override UP: u32 = 0u;
override PY: u32 = 1u;      // output rows per thread (1 or 2)
override CIC: u32 = 4u;     // input channels per chunk (≤ CICMAX; 2 for PY = 2 at stride 2)
override NORM: u32 = 0u;
override RES: u32 = 0u;

// G: GroupNorm groups of the input (NORM = 1)
struct Params { Bsz: u32, Cin: u32, H: u32, W: u32, Cout: u32, Ho: u32, Wo: u32, stride: u32, pad: u32, k: u32, coBlocks: u32, G: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;      // (B, Cin, H, W)
@group(0) @binding(2) var<storage, read> w: array<f32>;      // (Cout, Cin, k, k)
@group(0) @binding(3) var<storage, read> bias: array<f32>;   // (Cout)
@group(0) @binding(4) var<storage, read_write> out: array<f32>; // (B, Cout, Ho, Wo)
@group(0) @binding(5) var<storage, read> stats: array<f32>;  // NORM: (B·G, 2) mean, rstd; else unused
@group(0) @binding(6) var<storage, read> gamma: array<f32>;  // NORM: (Cin); else unused
@group(0) @binding(7) var<storage, read> beta: array<f32>;   // NORM: (Cin); else unused
@group(0) @binding(8) var<storage, read> res: array<f32>;    // RES: (B, Cout, Ho, Wo); else unused

var<workgroup> tile: array<f32, TILE>;
var<workgroup> sw: array<vec4<f32>, 2u * CICMAX * 9u>;       // sw[(ci·9 + t)·2 + h][q] = w[o0 + 4h + q, c0 + ci, t]

fn store(b: u32, o0: u32, oy: u32, ox: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (ox >= p.Wo || oy >= p.Ho) { return; }
  for (var o = 0u; o < COB; o++) {
    if (o0 + o < p.Cout) {
      let i = ((b * p.Cout + o0 + o) * p.Ho + oy) * p.Wo + ox;
      var v = select(hi, lo, o < 4u)[o % 4u] + bias[o0 + o];
      if (RES != 0u) { v += res[i]; }
      out[i] = v;
    }
  }
}

@compute @workgroup_size(TW, TH)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.z / p.coBlocks;
  let o0 = (wid.z % p.coBlocks) * COB;
  let ox0 = wid.x * TW;
  let oy0 = wid.y * TH * PY;
  let s = p.stride;
  let k = p.k;
  let kk = k * k;
  let Hv = p.H << UP;                                      // virtual (upsampled) input size
  let Wv = p.W << UP;
  let ph = (TH * PY - 1u) * s + k;                         // staged extent
  let pw = (TW - 1u) * s + k;
  let cpg = p.Cin / max(p.G, 1u);                          // channels per group (NORM)

  var a0 = vec4<f32>(0.0);                                 // row y: channels o0..o0+3, o0+4..o0+7
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);                                 // row y + TH (PY = 2)
  var a3 = vec4<f32>(0.0);

  for (var c0 = 0u; c0 < p.Cin; c0 += CIC) {
    for (var e = lid; e < CIC * ph * pw; e += TW * TH) {
      let ci = e / (ph * pw);
      let r = (e / pw) % ph;
      let q = e % pw;
      let c = c0 + ci;
      let iy = i32(oy0 * s + r) - i32(p.pad);
      let ix = i32(ox0 * s + q) - i32(p.pad);
      var v = 0.0;
      if (c < p.Cin && iy >= 0 && ix >= 0 && u32(iy) < Hv && u32(ix) < Wv) {
        v = x[((b * p.Cin + c) * p.H + (u32(iy) >> UP)) * p.W + (u32(ix) >> UP)];
        if (NORM != 0u) {
          let bg = b * p.G + c / cpg;
          v = (v - stats[2u * bg]) * stats[2u * bg + 1u] * gamma[c] + beta[c];
          v = v / (1.0 + exp(-v));
        }
      }
      tile[(ci * ph + r) * pw + q] = v;
    }
    for (var e = lid; e < COB * CIC * kk; e += TW * TH) {
      let o = e / (CIC * kk);
      let ci = (e / kk) % CIC;
      let t = e % kk;
      var v = 0.0;
      if (o0 + o < p.Cout && c0 + ci < p.Cin) { v = w[((o0 + o) * p.Cin + c0 + ci) * kk + t]; }
      sw[(ci * 9u + t) * 2u + o / 4u][o % 4u] = v;
    }
    workgroupBarrier();
    for (var ci = 0u; ci < CIC; ci++) {
      for (var i = 0u; i < k; i++) {
        for (var j = 0u; j < k; j++) {
          let t = (ci * 9u + i * k + j) * 2u;
          let wl = sw[t];
          let wh = sw[t + 1u];
          let v = tile[(ci * ph + lid3.y * s + i) * pw + lid3.x * s + j];
          a0 += v * wl;
          if (COB == 8u) { a1 += v * wh; }
          if (PY == 2u) {
            let v2 = tile[(ci * ph + (lid3.y + TH) * s + i) * pw + lid3.x * s + j];
            a2 += v2 * wl;
            if (COB == 8u) { a3 += v2 * wh; }
          }
        }
      }
    }
    workgroupBarrier();                                      // tile / sw are rewritten by the next chunk
  }
  let ox = ox0 + lid3.x;
  store(b, o0, oy0 + lid3.y, ox, a0, a1);
  if (PY == 2u) { store(b, o0, oy0 + lid3.y + TH, ox, a2, a3); }
}
