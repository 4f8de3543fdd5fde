// Chunked fused selective scan (forward), the candidate against shaders/selective_scan_fused.wgsl at small batch.
// Prepended with shaders/softplus.wgsl and shaders/cross_scan_index.wgsl. Same inputs (ORIGINAL token order, read by
// index arithmetic along each direction's scan order) and recurrence; the output is y (B, K, L, di) in SCAN order,
// which crossMerge (shaders/cross_scan.wgsl) sums over the directions into (B, L, di).
// Idea: the fused kernel has one thread per (b, k, channel) walking all L steps: at batch 2 that is too few threads
// to hide a latency-bound chain (docs/benchmarks.md). The recurrence h_t = a_t ⊙ h_{t-1} + b_t is linear, so L is
// cut into NC chunks of T = ⌈L / NC⌉ steps, one thread per (chunk, channel), in three phases of one workgroup:
//   1. each chunk from h = 0: its end state e_j (N) and its total step Σ_j = Σ_t Δ_t (the chunk's decay is
//      exp(A_n·Σ_j) per state, so one number per chunk and channel suffices);
//   2. one thread per (channel, state) carries the true start states across the chunks in order:
//      s_0 = 0, s_{j+1} = exp(A_n·Σ_j)·s_j + e_j (written over e_j in workgroup memory);
//   3. each chunk again from its start state s_j, now with the outputs y_t = ⟨C_t, h_t⟩ + D·u_t.
// Work is about twice the fused kernel's; the longest chain is 2T + NC steps instead of L.
// Workgroup = (b, k, CB channels) × NC chunks = CB·NC threads; workgroup memory CB·NC·(N + 1) floats.

override CB: u32 = 16u;  // channels per workgroup
override NC: u32 = 8u;   // chunks
override NS: u32 = 16u;  // state size N (≤ 16)
override WGS: u32 = 128u; // = CB · NC (set by the host)
const NMAX: u32 = 16u;
const SMAX: u32 = 2048u; // CB · NC · NMAX ≤ SMAX (checked by the host)

struct Params { Bsz: u32, K: u32, L: u32, di: u32, S: u32, bOff: u32, cOff: u32, blocks: u32, geom: ScanGeom }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;       // (B, K, L, di) token order
@group(0) @binding(2) var<storage, read> delta: array<f32>;   // (B, K, L, di) token order
@group(0) @binding(3) var<storage, read> Alog: array<f32>;    // (K, di, N)
@group(0) @binding(4) var<storage, read> BC: array<f32>;      // (B, K, L, S) token order
@group(0) @binding(5) var<storage, read> Dp: array<f32>;      // (K, di)
@group(0) @binding(6) var<storage, read> dtBias: array<f32>;  // (K, di)
@group(0) @binding(7) var<storage, read_write> y: array<f32>; // (B, K, L, di) scan order

var<workgroup> st: array<f32, SMAX>;            // (NC, CB, N): chunk end states, then chunk start states
var<workgroup> dsum: array<f32, SMAX / NMAX>;   // (NC, CB): Σ Δ over each chunk

@compute @workgroup_size(WGS)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.Bsz * p.K * p.blocks) { return; }             // uniform per workgroup
  let bk = g / p.blocks;                                   // b · K + k
  let k = bk % p.K;
  let c0 = (g % p.blocks) * CB;
  let j = lid / CB;                                        // chunk
  let cl = lid % CB;
  let c = c0 + cl;
  let live = c < p.di;
  let kc = k * p.di + min(c, p.di - 1u);
  let T = (p.L + NC - 1u) / NC;
  let t0 = min(j * T, p.L);
  let t1 = min(t0 + T, p.L);

  var A: array<f32, NMAX>;
  var h: array<f32, NMAX>;
  for (var n = 0u; n < NS; n++) { A[n] = -exp(Alog[kc * NS + n]); h[n] = 0.0; }
  let bias = dtBias[kc];

  // 1. the chunk from h = 0
  var sum = 0.0;
  if (live) {
    for (var s = t0; s < t1; s++) {
      let tok = seqToken(p.geom, k, s);
      let i = (bk * p.L + tok) * p.di + c;
      let dt = softplus(delta[i] + bias);
      let du = dt * u[i];
      let row = (bk * p.L + tok) * p.S + p.bOff;
      for (var n = 0u; n < NS; n++) { h[n] = exp(dt * A[n]) * h[n] + du * BC[row + n]; }
      sum += dt;
    }
  }
  for (var n = 0u; n < NS; n++) { st[(j * CB + cl) * NS + n] = h[n]; }
  dsum[j * CB + cl] = sum;
  workgroupBarrier();

  // 2. carry the start states across the chunks, one thread per (channel, state)
  for (var e = lid; e < CB * NS; e += WGS) {
    let ec = e / NS;
    let n = e % NS;
    let a = -exp(Alog[(k * p.di + min(c0 + ec, p.di - 1u)) * NS + n]);
    var carry = 0.0;
    for (var jj = 0u; jj < NC; jj++) {
      let o = (jj * CB + ec) * NS + n;
      let end = st[o];
      st[o] = carry;
      carry = exp(a * dsum[jj * CB + ec]) * carry + end;
    }
  }
  workgroupBarrier();

  // 3. the chunk again from its true start state, with the outputs
  if (!live) { return; }
  for (var n = 0u; n < NS; n++) { h[n] = st[(j * CB + cl) * NS + n]; }
  let Dc = Dp[kc];
  for (var s = t0; s < t1; s++) {
    let tok = seqToken(p.geom, k, s);
    let i = (bk * p.L + tok) * p.di + c;
    let ut = u[i];
    let dt = softplus(delta[i] + bias);
    let du = dt * ut;
    let row = (bk * p.L + tok) * p.S;
    var acc = 0.0;
    for (var n = 0u; n < NS; n++) {
      h[n] = exp(dt * A[n]) * h[n] + du * BC[row + p.bOff + n];
      acc += h[n] * BC[row + p.cOff + n];
    }
    y[(bk * p.L + s) * p.di + c] = acc + Dc * ut;
  }
}
