// 2-D convolution, NCHW (PyTorch's layout: images, VQ activations and weights (Cout, Cin, k, k) need no
// transposes), square kernel k ∈ {1, 3}, stride ∈ {1, 2}, zero padding, bias, and an optional fused nearest ×2
// upsample of the input (UP = 1: the conv reads x[iy/2][ix/2] of a virtual 2H × 2W input, as
// F.conv2d(F.interpolate(x, scale_factor=2, mode='nearest')) in the VQ decoder, without materialising it).
//   out[b, o, y, x] = bias[o] + Σ_{c, i, j} w[o, c, i, j] · in[b, c, y·s − pad + i, x·s − pad + j]
// Tiling: a workgroup computes a TW × TH = 16 × 8 output tile for COB = 8 output channels; each thread one pixel
// × 8 channels (8 accumulators). Input channels go in chunks of CIC = 4: the tile's input tile (with halo,
// ≤ 17 × 33 per channel at stride 2) and the 8 × 4 × k² weights are staged in workgroup memory, so each input
// value is fetched once per tile and reused by 8 output channels × k² taps.

const TW: u32 = 16u;
const TH: u32 = 8u;
const COB: u32 = 8u;
const CIC: u32 = 4u;
const PW: u32 = 33u;        // (TW − 1)·2 + 3
const PH: u32 = 17u;        // (TH − 1)·2 + 3
override UP: u32 = 0u;

struct Params { Bsz: u32, Cin: u32, H: u32, W: u32, Cout: u32, Ho: u32, Wo: u32, stride: u32, pad: u32, k: u32, coBlocks: u32, _p: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;      // (B, Cin, H, W)
@group(0) @binding(2) var<storage, read> w: array<f32>;      // (Cout, Cin, k, k)
@group(0) @binding(3) var<storage, read> bias: array<f32>;   // (Cout)
@group(0) @binding(4) var<storage, read_write> out: array<f32>; // (B, Cout, Ho, Wo)

var<workgroup> tile: array<f32, CIC * PH * PW>;
var<workgroup> sw: array<f32, COB * CIC * 9u>;

@compute @workgroup_size(TW, TH)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.z / p.coBlocks;
  let o0 = (wid.z % p.coBlocks) * COB;
  let ox0 = wid.x * TW;
  let oy0 = wid.y * TH;
  let ox = ox0 + lid3.x;
  let oy = oy0 + lid3.y;
  let s = p.stride;
  let k = p.k;
  let kk = k * k;
  let Hv = p.H << UP;                                      // virtual (upsampled) input size
  let Wv = p.W << UP;
  let ph = (TH - 1u) * s + k;                              // tile extent actually used
  let pw = (TW - 1u) * s + k;

  var acc: array<f32, COB>;
  for (var o = 0u; o < COB; o++) { acc[o] = 0.0; }

  for (var c0 = 0u; c0 < p.Cin; c0 += CIC) {
    for (var e = lid; e < CIC * ph * pw; e += TW * TH) {
      let ci = e / (ph * pw);
      let r = (e / pw) % ph;
      let q = e % pw;
      let iy = i32(oy0 * s + r) - i32(p.pad);
      let ix = i32(ox0 * s + q) - i32(p.pad);
      var v = 0.0;
      if (c0 + ci < p.Cin && iy >= 0 && ix >= 0 && u32(iy) < Hv && u32(ix) < Wv) {
        v = x[((b * p.Cin + c0 + ci) * p.H + (u32(iy) >> UP)) * p.W + (u32(ix) >> UP)];
      }
      tile[(ci * PH + r) * PW + q] = v;
    }
    for (var e = lid; e < COB * CIC * kk; e += TW * TH) {
      let o = e / (CIC * kk);
      let ci = (e / kk) % CIC;
      let t = e % kk;
      var v = 0.0;
      if (o0 + o < p.Cout && c0 + ci < p.Cin) { v = w[((o0 + o) * p.Cin + c0 + ci) * kk + t]; }
      sw[(o * CIC + ci) * 9u + t] = v;
    }
    workgroupBarrier();
    for (var ci = 0u; ci < CIC; ci++) {
      for (var i = 0u; i < k; i++) {
        for (var j = 0u; j < k; j++) {
          let v = tile[(ci * PH + lid3.y * s + i) * PW + lid3.x * s + j];
          let t = ci * 9u + i * k + j;
          for (var o = 0u; o < COB; o++) { acc[o] += v * sw[o * CIC * 9u + t]; }
        }
      }
    }
    workgroupBarrier();                                      // tile / sw are rewritten by the next chunk
  }
  if (ox < p.Wo && oy < p.Ho) {
    for (var o = 0u; o < COB; o++) {
      if (o0 + o < p.Cout) { out[((b * p.Cout + o0 + o) * p.Ho + oy) * p.Wo + ox] = acc[o] + bias[o0 + o]; }
    }
  }
}
