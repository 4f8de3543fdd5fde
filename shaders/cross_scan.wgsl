// Cross-scan gather and cross-merge (VMamba, Liu et al. 2024; training/mmamba/mmamba.py `mix`).
// Prepended at load time with shaders/cross_scan_index.wgsl (seqToken / seqPos / ScanGeom).
//   scan  (entry `scan`):  x (B, L, C) → xs (B, K, L, C),  xs[b,k,j,c] = x[b, seqToken(k,j), c]
//   merge (entry `merge`): y (B, K, L, C) → (B, L, C),      out[b,t,c] = Σ_k y[b, k, seqPos(k,t), c]
// Channels-last, so consecutive threads move consecutive channels of one token (coalesced on both sides).
// One thread per output element; the sum over k runs in fixed order k = 0..K-1 (deterministic).

struct Params { n: u32, C: u32, L: u32, _pad: u32, geom: ScanGeom }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn scan(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;        // over (B, K, L, C)
  if (i >= p.n) { return; }
  let c = i % p.C;
  let j = (i / p.C) % p.L;
  let bk = i / (p.C * p.L);
  let k = bk % p.geom.K;
  let b = bk / p.geom.K;
  dst[i] = src[(b * p.L + seqToken(p.geom, k, j)) * p.C + c];
}

@compute @workgroup_size(256)
fn merge(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;        // over (B, L, C)
  if (i >= p.n) { return; }
  let c = i % p.C;
  let t = (i / p.C) % p.L;
  let b = i / (p.C * p.L);
  var acc = 0.0;
  for (var k = 0u; k < p.geom.K; k++) {
    acc += src[((b * p.geom.K + k) * p.L + seqPos(p.geom, k, t)) * p.C + c];
  }
  dst[i] = acc;
}
