// Multi-head scaled dot-product attention, f32 (PyTorch F.scaled_dot_product_attention with a boolean key mask):
//   o[b,h,i,:] = Σ_j softmax_j(q[b,h,i,:]·k[b,h,j,:] · scale, masked j → −∞) · v[b,h,j,:]
// Layout: every operand is a strided view: element (b, h, l, d) of X lives at X[offX + b·sbX + h·shX + l·slX + d],
// with d contiguous. This reads (B, H, L, Dh) tensors, and equally the packed projections of the models
// (qkv (B, L, 3·H·Dh), kv (B, L, 2·H·Dh), q (B, L, H·Dh)) and writes (B, L, H·Dh) for the output projection,
// so no split/merge-heads copies are needed. mask: u32 (B, Lk), nonzero = attend (when HAS_MASK = 1).
// A query row whose keys are all masked gets o = 0 (PyTorch gives NaN there; our prompts always keep [bos]).
// Idea (FlashAttention-style, one thread per query row): a workgroup takes BQ query rows of one (b, h); each thread
// keeps its scaled q row and its output accumulator in registers. K and V are staged in tiles of BKV keys in
// workgroup memory; per tile each thread computes its BKV scores, and folds them into a running max / running sum
// (online softmax: rescale acc by exp(m_old − m_new)), so the Lq×Lk score matrix never exists and Lk is unbounded.
// DH (head dim, a multiple of 4) is a compile-time constant substituted by the TS wrapper so the loops unroll.

const DH4: u32 = /*DH4*/16u; // head dim / 4
const BKV: u32 = 32u;        // keys per tile
override BQ: u32 = 64u;      // query rows per workgroup (= threads)
override HAS_MASK: u32 = 0u;

struct View { off: u32, sb: u32, sh: u32, sl: u32 }
struct Params { q: View, k: View, v: View, o: View, H: u32, Lq: u32, Lk: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> K: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> V: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> mask: array<u32>;
@group(0) @binding(5) var<storage, read_write> O: array<vec4<f32>>;

var<workgroup> Ks: array<vec4<f32>, BKV * DH4>;
var<workgroup> Vs: array<vec4<f32>, BKV * DH4>;
var<workgroup> ok: array<u32, BKV>; // key j of the tile exists and is not masked

// Offsets are in f32 elements and multiples of 4 (checked by the wrapper), so /4 indexes the vec4 arrays.
fn at(vw: View, b: u32, h: u32, l: u32) -> u32 { return (vw.off + b * vw.sb + h * vw.sh + l * vw.sl) / 4u; }

@compute @workgroup_size(BQ)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.z;
  let h = wid.y;
  let i = wid.x * BQ + lid;
  let valid = i < p.Lq;

  var q: array<vec4<f32>, DH4>;
  var acc: array<vec4<f32>, DH4>;
  let qb = at(p.q, b, h, min(i, p.Lq - 1u));
  for (var d = 0u; d < DH4; d++) { q[d] = Q[qb + d] * p.scale; acc[d] = vec4<f32>(0.0); }
  var m = -3.402823e38; // running max of the scores seen so far
  var l = 0.0;          // running Σ exp(s − m)

  for (var k0 = 0u; k0 < p.Lk; k0 += BKV) {
    for (var t = lid; t < BKV * DH4; t += BQ) {
      let j = t / DH4;
      let d = t - j * DH4;
      let kj = min(k0 + j, p.Lk - 1u); // rows past Lk are loaded (in bounds) but flagged off below
      Ks[t] = K[at(p.k, b, h, kj) + d];
      Vs[t] = V[at(p.v, b, h, kj) + d];
    }
    for (var j = lid; j < BKV; j += BQ) {
      var on = k0 + j < p.Lk;
      if (HAS_MASK == 1u && on) { on = mask[b * p.Lk + k0 + j] != 0u; }
      ok[j] = select(0u, 1u, on);
    }
    workgroupBarrier();

    var s: array<f32, BKV>;
    var tm = -3.402823e38;
    for (var j = 0u; j < BKV; j++) {
      var dot4 = vec4<f32>(0.0);
      for (var d = 0u; d < DH4; d++) { dot4 = fma(q[d], Ks[j * DH4 + d], dot4); }
      s[j] = dot4.x + dot4.y + dot4.z + dot4.w;
      if (ok[j] != 0u) { tm = max(tm, s[j]); }
    }
    let mNew = max(m, tm);
    let corr = exp(m - mNew); // 1 when the max did not move; exp(-huge) = 0 on the first live tile
    l *= corr;
    for (var d = 0u; d < DH4; d++) { acc[d] *= corr; }
    for (var j = 0u; j < BKV; j++) {
      let pj = select(0.0, exp(s[j] - mNew), ok[j] != 0u);
      l += pj;
      for (var d = 0u; d < DH4; d++) { acc[d] = fma(vec4<f32>(pj), Vs[j * DH4 + d], acc[d]); }
    }
    m = mNew;
    workgroupBarrier();
  }

  if (!valid) { return; }
  let inv = select(0.0, 1.0 / l, l > 0.0);
  let ob = at(p.o, b, h, i);
  for (var d = 0u; d < DH4; d++) { O[ob + d] = acc[d] * inv; }
}
