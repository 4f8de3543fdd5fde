// Finishing kernels of the selective-scan backward (shaders/selective_scan_backward.wgsl): read its workspace and
// write the gradients in the forward's layouts. Deterministic fixed-order sums, no atomics.
// The TS wrapper builds one module per entry from the shared prelude (up to the first `//#entry` line) plus that
// entry's section, so that every module binds exactly the buffers it uses (bindings 0..n−1, as the engine expects).
//   copy:   out (n) = ws[off .. off + n)                                        (du, d delta)
//   bc:     dBC (B, K, L, S): columns [bOff, +N) = Σ_blk dB partials, [cOff, +N) = Σ_blk dC partials, others 0
//   params: d A_log (K, di, N), dD (K, di), d dt_bias (K, di) = Σ_b of the per-(b, k, c) partials
// One thread per output element, 2-D grid of 256-thread workgroups.

struct Params { n: u32, off: u32, Bsz: u32, K: u32, L: u32, di: u32, S: u32, N: u32, blocks: u32, bOff: u32, cOff: u32, _p0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ws: array<f32>;

fn linearId(wid: vec3u, nwg: vec3u, lid: u32) -> u32 { return (wid.x + wid.y * nwg.x) * 256u + lid; }

//#entry copy
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearId(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = ws[p.off + i];
}

//#entry bc
@group(0) @binding(2) var<storage, read_write> dBC: array<f32>;   // (B, K, L, S)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearId(wid, nwg, lid);
  if (i >= p.n) { return; }
  let col = i % p.S;
  let t = (i / p.S) % p.L;
  let bk = i / (p.S * p.L);
  var e = 0xffffffffu;
  if (col >= p.bOff && col < p.bOff + p.N) { e = col - p.bOff; }
  if (col >= p.cOff && col < p.cOff + p.N) { e = p.N + col - p.cOff; }
  var acc = 0.0;
  if (e != 0xffffffffu) {
    for (var blk = 0u; blk < p.blocks; blk++) { acc += ws[p.off + ((bk * p.blocks + blk) * p.L + t) * 2u * p.N + e]; }
  }
  dBC[i] = acc;
}

//#entry params
@group(0) @binding(2) var<storage, read_write> dAlog: array<f32>; // (K, di, N)
@group(0) @binding(3) var<storage, read_write> dD: array<f32>;    // (K, di)
@group(0) @binding(4) var<storage, read_write> dBias: array<f32>; // (K, di)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearId(wid, nwg, lid);                      // over (K, di, N + 2)
  if (i >= p.n) { return; }
  let e = i % (p.N + 2u);
  let kc = i / (p.N + 2u);
  var acc = 0.0;
  let stride = p.K * p.di * (p.N + 2u);
  for (var b = 0u; b < p.Bsz; b++) { acc += ws[p.off + b * stride + i]; }
  if (e < p.N) { dAlog[kc * p.N + e] = acc; } else if (e == p.N) { dD[kc] = acc; } else { dBias[kc] = acc; }
}
