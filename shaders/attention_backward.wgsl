// Backward of shaders/attention.wgsl (multi-head attention, scale s, optional key mask), f32, recomputing the
// scores from q and k (nothing but the output O is kept from the forward). Per (b, h), with P = softmax(s·Q·Kᵀ):
//   Δ_i  = dO_i · O_i                        (= Σ_j P_ij · dO_i·v_j)
//   dS_ij = P_ij · (dO_i·v_j − Δ_i)
//   dQ_i = s · Σ_j dS_ij · k_j,   dK_j = s · Σ_i dS_ij · q_i,   dV_j = Σ_i P_ij · dO_i
// Two entry points, one thread per row (FlashAttention-2's split, without tiles: meant for short sequences such as
// the text encoder's 16 tokens, where a whole row fits in registers):
//   `rows`: thread (b, h, i) finds its row's log-sum-exp and Δ_i, writes them to `stats` (B, H, Lq, 2), and dQ_i;
//   `keys`: thread (b, h, j) walks every query row with those stats and writes dK_j and dV_j (0 for a masked key).
// Every operand is a strided view as in the forward (element (b, h, l, d) at off + b·sb + h·sh + l·sl + d), so the
// packed qkv is read in place and dQ, dK, dV land in one packed dqkv. A row with every key masked has O = 0 and
// contributes nothing (lse = +big, so its P is 0).
// DH4 (head dim / 4) is substituted by the TS wrapper so the loops unroll.

const DH4: u32 = /*DH4*/8u;
const BIG: f32 = 3.402823e38;
override HAS_MASK: u32 = 0u;

struct View { off: u32, sb: u32, sh: u32, sl: u32 }
struct Params { q: View, k: View, v: View, o: View, dO: View, dq: View, dk: View, dv: View, H: u32, Lq: u32, Lk: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> QKV: array<vec4<f32>>;   // q, k, v (views into one or more tensors' data)
@group(0) @binding(2) var<storage, read> O: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> dO: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> mask: array<u32>;        // (B, Lk), nonzero = attend
@group(0) @binding(5) var<storage, read_write> stats: array<vec2<f32>>; // (B, H, Lq): (lse, Δ)
@group(0) @binding(6) var<storage, read_write> dQKV: array<vec4<f32>>;

fn at(vw: View, b: u32, h: u32, l: u32) -> u32 { return (vw.off + b * vw.sb + h * vw.sh + l * vw.sl) / 4u; }
fn live(b: u32, j: u32) -> bool { return HAS_MASK == 0u || mask[b * p.Lk + j] != 0u; }

fn dotRow(a: array<vec4<f32>, DH4>, base: u32) -> f32 {
  var acc = vec4<f32>(0.0);
  for (var d = 0u; d < DH4; d++) { acc = fma(a[d], QKV[base + d], acc); }
  return acc.x + acc.y + acc.z + acc.w;
}

@compute @workgroup_size(64)
fn rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.z;
  let h = wid.y;
  let i = wid.x * 64u + lid;
  if (i >= p.Lq) { return; }
  var q: array<vec4<f32>, DH4>;
  var g: array<vec4<f32>, DH4>; // dO_i
  let qb = at(p.q, b, h, i);
  let ob = at(p.o, b, h, i);
  let gb = at(p.dO, b, h, i);
  var delta = vec4<f32>(0.0);
  for (var d = 0u; d < DH4; d++) {
    q[d] = QKV[qb + d] * p.scale;
    g[d] = dO[gb + d];
    delta = fma(g[d], O[ob + d], delta);
  }
  let dl = delta.x + delta.y + delta.z + delta.w;
  var m = -BIG;
  for (var j = 0u; j < p.Lk; j++) {
    if (live(b, j)) { m = max(m, dotRow(q, at(p.k, b, h, j))); }
  }
  var l = 0.0;
  for (var j = 0u; j < p.Lk; j++) {
    if (live(b, j)) { l += exp(dotRow(q, at(p.k, b, h, j)) - m); }
  }
  let lse = select(BIG, m + log(l), l > 0.0);
  stats[(b * p.H + h) * p.Lq + i] = vec2<f32>(lse, dl);
  var dq: array<vec4<f32>, DH4>;
  for (var d = 0u; d < DH4; d++) { dq[d] = vec4<f32>(0.0); }
  for (var j = 0u; j < p.Lk; j++) {
    if (!live(b, j)) { continue; }
    let kb = at(p.k, b, h, j);
    let pij = exp(dotRow(q, kb) - lse);
    let ds = pij * (dotRow(g, at(p.v, b, h, j)) - dl);
    for (var d = 0u; d < DH4; d++) { dq[d] = fma(vec4<f32>(ds), QKV[kb + d], dq[d]); }
  }
  let db = at(p.dq, b, h, i);
  for (var d = 0u; d < DH4; d++) { dQKV[db + d] = dq[d] * p.scale; }
}

@compute @workgroup_size(64)
fn keys(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.z;
  let h = wid.y;
  let j = wid.x * 64u + lid;
  _ = O[0]; // O is `rows`' input; naming it keeps both entry points on one bind group layout
  if (j >= p.Lk) { return; }
  var k: array<vec4<f32>, DH4>; // s·k_j: the score is q_i·(s·k_j)
  var v: array<vec4<f32>, DH4>;
  var dk: array<vec4<f32>, DH4>;
  var dv: array<vec4<f32>, DH4>;
  let kb = at(p.k, b, h, j);
  let vb = at(p.v, b, h, j);
  for (var d = 0u; d < DH4; d++) {
    k[d] = QKV[kb + d] * p.scale;
    v[d] = QKV[vb + d];
    dk[d] = vec4<f32>(0.0);
    dv[d] = vec4<f32>(0.0);
  }
  if (live(b, j)) {
    for (var i = 0u; i < p.Lq; i++) {
      let st = stats[(b * p.H + h) * p.Lq + i];
      let qb = at(p.q, b, h, i);
      let gb = at(p.dO, b, h, i);
      let pij = exp(dotRow(k, qb) - st.x);
      var dp4 = vec4<f32>(0.0);
      for (var d = 0u; d < DH4; d++) { dp4 = fma(dO[gb + d], v[d], dp4); }
      let ds = pij * (dp4.x + dp4.y + dp4.z + dp4.w - st.y);
      for (var d = 0u; d < DH4; d++) {
        dv[d] = fma(vec4<f32>(pij), dO[gb + d], dv[d]);
        dk[d] = fma(vec4<f32>(ds), QKV[qb + d], dk[d]);
      }
    }
  }
  let dkb = at(p.dk, b, h, j);
  let dvb = at(p.dv, b, h, j);
  for (var d = 0u; d < DH4; d++) {
    dQKV[dkb + d] = dk[d] * p.scale;
    dQKV[dvb + d] = dv[d];
  }
}
