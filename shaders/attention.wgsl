// Multi-head scaled dot-product attention, f32 (PyTorch F.scaled_dot_product_attention with a boolean key mask):
//   o[b,h,i,:] = Σ_j softmax_j(q[b,h,i,:]·k[b,h,j,:] · scale, masked j → −∞) · v[b,h,j,:]
// Layout: every operand is a strided view: element (b, h, l, d) of X lives at X[offX + b·sbX + h·shX + l·slX + d],
// with d contiguous. This reads (B, H, L, Dh) tensors, and equally the packed projections of the models
// (qkv (B, L, 3·H·Dh), kv (B, L, 2·H·Dh), q (B, L, H·Dh)) and writes (B, L, H·Dh) for the output projection,
// so no split/merge-heads copies are needed. mask: u32 (B, Lk), nonzero = attend (when HAS_MASK = 1).
// A query row whose keys are all masked gets o = 0 (PyTorch gives NaN there; our prompts always keep [bos]).
// Idea (FlashAttention-style, online softmax): a workgroup of 64 threads takes BQ = 16 query rows of one (b, h),
// with KS = 4 threads per row that split the keys between them (key j of a tile goes to thread j % KS), so a
// small batch (UViT: B·H·256 rows) still fills a large GPU. Each thread keeps its scaled q row and a partial
// output accumulator in registers. K and V are staged in tiles of BKV keys in workgroup memory (BKV = 1024/Dh
// rounded down to a multiple of KS, at most 32, at least KS; any Dh that is a multiple of 4 up to 256, e.g. 96 for
// d 384 with 4 heads; the tiles take ≤ 9 KiB: inside WebGPU's default 16 KiB; rows padded by one vec4 so that the
// KS threads of a row, reading different keys, hit different banks); per tile a thread computes its BKV/KS
// scores and folds them into a running max m / running sum l (rescaling acc by exp(m_old − m_new)), so the
// Lq×Lk score matrix never exists and Lk is unbounded. At the end the KS partial (m, l, acc) of a row are merged
// into the row's first thread through workgroup memory (reusing the tile space), one partial per round, in groups
// of rows whose accumulators fit that space.
// DH4 and BKV are compile-time constants substituted by the TS wrapper so the loops unroll.

const DH4: u32 = /*DH4*/16u; // head dim / 4
const BKV: u32 = /*BKV*/32u; // keys per tile
const BQ: u32 = 16u;         // query rows per workgroup
const KS: u32 = 4u;          // threads per query row (key split)
const NT: u32 = 64u;         // BQ·KS threads
const KPT: u32 = BKV / KS;   // keys per thread per tile
const KST: u32 = DH4 + 1u;   // padded row stride of the tiles, in vec4
const RG: u32 = min(BQ, 2u * BKV); // rows whose partial accumulators fit the tile space at once (8 or 16)
override HAS_MASK: u32 = 0u;

struct View { off: u32, sb: u32, sh: u32, sl: u32 }
struct Params { q: View, k: View, v: View, o: View, H: u32, Lq: u32, Lk: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> K: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> V: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> mask: array<u32>;
@group(0) @binding(5) var<storage, read_write> O: array<vec4<f32>>;

var<workgroup> KV: array<vec4<f32>, 2u * BKV * KST>; // K tile (key j at j·KST) then V tile; later partial accs
var<workgroup> ok: array<u32, BKV>;                   // key j of the tile exists and is not masked
var<workgroup> part: array<vec2<f32>, BQ>;            // (m, l) of one partial per row, for the merge

// Offsets are in f32 elements and multiples of 4 (checked by the wrapper), so /4 indexes the vec4 arrays.
fn at(vw: View, b: u32, h: u32, l: u32) -> u32 { return (vw.off + b * vw.sb + h * vw.sh + l * vw.sl) / 4u; }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.z;
  let h = wid.y;
  let row = lid / KS;
  let sp = lid % KS;
  let i = wid.x * BQ + row;

  var q: array<vec4<f32>, DH4>;
  var acc: array<vec4<f32>, DH4>;
  let qb = at(p.q, b, h, min(i, p.Lq - 1u));
  for (var d = 0u; d < DH4; d++) { q[d] = Q[qb + d] * p.scale; acc[d] = vec4<f32>(0.0); }
  var m = -3.402823e38; // running max of this thread's scores
  var l = 0.0;          // running Σ exp(s − m)

  for (var k0 = 0u; k0 < p.Lk; k0 += BKV) {
    for (var t = lid; t < BKV * DH4; t += NT) {
      let j = t / DH4;
      let d = t - j * DH4;
      let kj = min(k0 + j, p.Lk - 1u); // rows past Lk are loaded (in bounds) but flagged off below
      KV[j * KST + d] = K[at(p.k, b, h, kj) + d];
      KV[(BKV + j) * KST + d] = V[at(p.v, b, h, kj) + d];
    }
    for (var j = lid; j < BKV; j += NT) {
      var on = k0 + j < p.Lk;
      if (HAS_MASK == 1u && on) { on = mask[b * p.Lk + k0 + j] != 0u; }
      ok[j] = select(0u, 1u, on);
    }
    workgroupBarrier();

    var s: array<f32, KPT>;
    var tm = -3.402823e38;
    for (var jj = 0u; jj < KPT; jj++) {
      let j = sp + jj * KS;
      var dot4 = vec4<f32>(0.0);
      for (var d = 0u; d < DH4; d++) { dot4 = fma(q[d], KV[j * KST + d], dot4); }
      s[jj] = dot4.x + dot4.y + dot4.z + dot4.w;
      if (ok[j] != 0u) { tm = max(tm, s[jj]); }
    }
    let mNew = max(m, tm);
    let corr = exp(m - mNew); // 1 when the max did not move; exp(-huge) = 0 on the first live tile
    l *= corr;
    for (var d = 0u; d < DH4; d++) { acc[d] *= corr; }
    for (var jj = 0u; jj < KPT; jj++) {
      let j = sp + jj * KS;
      let pj = select(0.0, exp(s[jj] - mNew), ok[j] != 0u);
      l += pj;
      for (var d = 0u; d < DH4; d++) { acc[d] = fma(vec4<f32>(pj), KV[(BKV + j) * KST + d], acc[d]); }
    }
    m = mNew;
    workgroupBarrier();
  }

  // Merge the KS partials of each row into its thread sp = 0, one partial per round:
  // (m, l, acc) ⊕ (m', l', acc') = (M, l·e^(m−M) + l'·e^(m'−M), acc·e^(m−M) + acc'·e^(m'−M)), M = max(m, m').
  // The tile space holds the accumulators of RG rows at a time (all BQ while BKV ≥ 8, i.e. Dh ≤ 128; half of them
  // for larger heads), so the rows merge in BQ/RG groups.
  let slot = (row % RG) * KST;
  for (var g = 0u; g < BQ / RG; g++) {
    let mine = row / RG == g;
    for (var t = 1u; t < KS; t++) {
      if (mine && sp == t) {
        part[row] = vec2<f32>(m, l);
        for (var d = 0u; d < DH4; d++) { KV[slot + d] = acc[d]; }
      }
      workgroupBarrier();
      if (mine && sp == 0u) {
        let o = part[row];
        let mNew = max(m, o.x);
        let c0 = exp(m - mNew);
        let c1 = exp(o.x - mNew);
        l = l * c0 + o.y * c1;
        for (var d = 0u; d < DH4; d++) { acc[d] = acc[d] * c0 + KV[slot + d] * c1; }
        m = mNew;
      }
      workgroupBarrier();
    }
  }
  if (sp != 0u || i >= p.Lq) { return; }
  let inv = select(0.0, 1.0 / l, l > 0.0); // l = 0: every key masked → zeros
  let ob = at(p.o, b, h, i);
  for (var d = 0u; d < DH4; d++) { O[ob + d] = acc[d] * inv; }
}
