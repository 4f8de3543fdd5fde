// MaskGIT sampling on the GPU (docs/architecture.md "Random numbers" and "MaskGIT sampler"; training/mmamba/rng.py
// and sampling.py are the source of truth).
//   hash32 (lowbias32) and uniform(key, index) = (f32(hash32(index ^ key) >> 8) + 0.5) / 2^24, key =
//   hash32(seed ^ hash32(stream)) computed once on the CPU. u32 arithmetic wraps, f32 ops are correctly rounded:
//   bit-exact with TypeScript and PyTorch. gumbel(u) = -log(-log(u)) is accurate to ~1e-6 absolute (see neg_log_u).
// Entry points, one workgroup of 256 threads per row, tree reductions in workgroup memory:
//   random_fill:   outU[i] = hash32(i ^ key), outF[i] = uniform(key, i)                    (tests, noise)
//   argmax_rows:   x (R, K) → outU (R) = first index of the max, outF (R) = the max
//   sample_rows:   logits (R', K) → outU (R) = argmax_k(l_k / temperature + gumbel(u(key, r·K + k))) (ties: lower k)
//                  and outF (R) = log_softmax(l)[that k]; with GUIDED, l = u + g·(c − u), c = row r, u = row r + R.
//   maskgit_update: per batch row b of HW positions (HW ≤ 1024): unknown = tokens == mask_id,
//                  conf = logp + factor·gumbel(u(key, b·HW + pos)) where unknown, +inf elsewhere (factor =
//                  tau·(1 − (i+1)/S)); tokens = where(unknown, sampled, tokens); the n = clamp(n_base, 0,
//                  count(unknown) − 1) positions of lowest conf (rank by (conf, index): a stable sort) go back to mask_id.
// Keys: with rowKeys = 0 one key for all rows and the counters above; with rowKeys = 1 batch row b uses keys[b]
// and the counters of row 0 (pos·K + k, pos), so each row draws what a batch-1 run with its own seed draws.
// Bindings are shared by the entry points (each uses a prefix 0..n of them): 0 params, 1 outU, 2 outF, 3 inF,
// 4 inU, 5 inU2.

struct Params {
  rows: u32, K: u32, key: u32, guided: u32,
  temperature: f32, guidance: f32, HW: u32, nBase: u32,
  maskId: u32, factor: f32, zero: u32, rowKeys: u32, // zero = 0: see `inf` below
  keys: array<vec4u, 4>, // MAX_ROW_KEYS per-row keys (rowKeys = 1), four to a vec4 (uniform arrays stride 16 bytes)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> outU: array<u32>;
@group(0) @binding(2) var<storage, read_write> outF: array<f32>;
@group(0) @binding(3) var<storage, read> inF: array<f32>;
@group(0) @binding(4) var<storage, read> inU: array<u32>;
@group(0) @binding(5) var<storage, read> inU2: array<u32>;

const WG: u32 = 256u;
const MAX_HW: u32 = 1024u;
const NEG_BIG: f32 = -3.402823e38;

var<workgroup> redV: array<f32, WG>;
var<workgroup> redI: array<u32, WG>;
var<workgroup> confS: array<f32, MAX_HW>;
var<workgroup> unknownCount: atomic<u32>;

fn hash32(x0: u32) -> u32 {
  var x = x0;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

fn uniform01(key: u32, index: u32) -> f32 {
  return (f32(hash32(index ^ key) >> 8u) + 0.5) / 16777216.0;
}

// -log(u) with a small relative error for u near 1. WGSL only promises log() to 2^-21 ABSOLUTE on [0.5, 2],
// which near u = 1 (where -log(u) ~ 1e-6..1e-3) would put errors of up to 1e-1 into the Gumbel noise. On [0.5, 1)
// use log(u) = 2·atanh(t), t = (u − 1)/(u + 1) ∈ [−1/3, 0] (u − 1 is exact there), as an odd series in t
// truncated where (1/9)^9/19 < 1e-9; below 0.5, log() is accurate to a few ulp relative anyway.
fn neg_log_u(u: f32) -> f32 {
  if (u < 0.5) { return -log(u); }
  let t = (u - 1.0) / (u + 1.0);
  let t2 = t * t;
  var poly = 1.0 / 19.0;
  poly = poly * t2 + 1.0 / 17.0;
  poly = poly * t2 + 1.0 / 15.0;
  poly = poly * t2 + 1.0 / 13.0;
  poly = poly * t2 + 1.0 / 11.0;
  poly = poly * t2 + 1.0 / 9.0;
  poly = poly * t2 + 1.0 / 7.0;
  poly = poly * t2 + 1.0 / 5.0;
  poly = poly * t2 + 1.0 / 3.0;
  poly = poly * t2 + 1.0;
  return -2.0 * t * poly;
}

// gumbel(u) = -log(-log(u)); the outer log is accurate to ~5e-7 absolute, which is what the noise needs.
fn gumbel(u: f32) -> f32 { return -log(neg_log_u(u)); }

// (v, i) beats (w, j) when v > w, or v == w and i < j (torch.argmax returns the first maximum).
fn better(v: f32, i: u32, w: f32, j: u32) -> bool { return v > w || (v == w && i < j); }

// Arg-max over the workgroup; the winner lands in redV[0], redI[0]. Barriers on entry and exit.
fn wgArgmax(v: f32, i: u32, lid: u32) {
  workgroupBarrier();
  redV[lid] = v;
  redI[lid] = i;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s && better(redV[lid + s], redI[lid + s], redV[lid], redI[lid])) {
      redV[lid] = redV[lid + s];
      redI[lid] = redI[lid + s];
    }
    workgroupBarrier();
  }
}

fn wgSum(v: f32, lid: u32) -> f32 {
  workgroupBarrier();
  redV[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { redV[lid] += redV[lid + s]; }
    workgroupBarrier();
  }
  let r = redV[0];
  workgroupBarrier();
  return r;
}

// The key of batch row b and the counter of its position pos (flat position r = b·HW + pos), per `rowKeys`.
fn rowKey(b: u32) -> u32 {
  if (p.rowKeys == 0u) { return p.key; }
  return p.keys[b / 4u][b % 4u];
}
fn rowCounter(b: u32, r: u32) -> u32 { return select(r, r - b * p.HW, p.rowKeys != 0u); }

fn rowId(wid: vec3u, nwg: vec3u) -> u32 { return wid.x + wid.y * nwg.x; }

@compute @workgroup_size(256)
fn random_fill(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.rows) { return; }
  outU[i] = hash32(i ^ p.key);
  outF[i] = uniform01(p.key, i);
}

@compute @workgroup_size(256)
fn argmax_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = rowId(wid, nwg);
  if (r >= p.rows) { return; }
  var bv = NEG_BIG;
  var bi = 0xffffffffu;
  for (var k = lid; k < p.K; k += WG) {
    let v = inF[r * p.K + k];
    if (better(v, k, bv, bi)) { bv = v; bi = k; }
  }
  wgArgmax(bv, bi, lid);
  if (lid == 0u) { outU[r] = redI[0]; outF[r] = redV[0]; }
}

fn logit(r: u32, k: u32) -> f32 {
  let c = inF[r * p.K + k];
  if (p.guided == 0u) { return c; }
  let u = inF[(r + p.rows) * p.K + k];
  return u + p.guidance * (c - u); // uncond + g·(cond − uncond), the same operation order as sampling.py
}

@compute @workgroup_size(256)
fn sample_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = rowId(wid, nwg);
  if (r >= p.rows) { return; }
  var bv = NEG_BIG;
  var bi = 0xffffffffu;
  var mx = NEG_BIG;
  let b = select(0u, r / max(p.HW, 1u), p.rowKeys != 0u);
  let key = rowKey(b);
  let cnt = rowCounter(b, r);
  for (var k = lid; k < p.K; k += WG) {
    let l = logit(r, k);
    mx = max(mx, l);
    let v = l / p.temperature + gumbel(uniform01(key, cnt * p.K + k));
    if (better(v, k, bv, bi)) { bv = v; bi = k; }
  }
  wgArgmax(bv, bi, lid);
  let tok = redI[0];
  // the row max, through the same reduction (index ignored)
  wgArgmax(mx, 0u, lid);
  let m = redV[0];
  var s = 0.0;
  for (var k = lid; k < p.K; k += WG) { s += exp(logit(r, k) - m); }
  s = wgSum(s, lid);
  if (lid == 0u) {
    outU[r] = tok;
    outF[r] = logit(r, tok) - m - log(s);
  }
}

@compute @workgroup_size(256)
fn maskgit_update(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x; // one workgroup per batch row; rows = B
  let base = b * p.HW;
  let key = rowKey(b);
  if (lid == 0u) { atomicStore(&unknownCount, 0u); }
  workgroupBarrier();
  var mine = 0u;
  for (var pos = lid; pos < p.HW; pos += WG) {
    let unknown = inU[base + pos] == p.maskId;
    // +inf (known positions are never re-masked); built from a uniform because WGSL rejects an infinite constant
    var c = bitcast<f32>(0x7f800000u + p.zero);
    if (unknown) {
      c = inF[base + pos] + p.factor * gumbel(uniform01(key, rowCounter(b, base + pos)));
      mine += 1u;
    }
    confS[pos] = c;
    outF[base + pos] = c;
  }
  atomicAdd(&unknownCount, mine);
  workgroupBarrier();
  let count = i32(atomicLoad(&unknownCount));
  let n = u32(max(0, min(i32(p.nBase), count - 1)));
  for (var pos = lid; pos < p.HW; pos += WG) {
    let t = inU[base + pos];
    var nt = select(t, inU2[base + pos], t == p.maskId);
    let c = confS[pos];
    var rank = 0u;
    for (var j = 0u; j < p.HW; j++) {
      let cj = confS[j];
      rank += select(0u, 1u, cj < c || (cj == c && j < pos));
    }
    if (rank < n) { nt = p.maskId; }
    outU[base + pos] = nt;
  }
}
