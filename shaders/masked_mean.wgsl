// Masked mean over the sequence axis (src/engine/ops/model_glue.ts maskedMean): the text encoder's pooled vector
// (training/mmamba/text_encoder.py): out (B, D) = Σ_l m[b,l]·x[b,l,:] / max(Σ_l m[b,l], 1), m u32 (B, L), nonzero =
// keep. One thread per output element summing L rows in order (L = text length, small).

struct Params { n: u32, D: u32, L: u32, pad0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (B, D)
@group(0) @binding(2) var<storage, read> x: array<f32>;         // (B, L, D)
@group(0) @binding(3) var<storage, read> m: array<u32>;         // (B, L)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= p.n) { return; }
  let j = i % p.D;
  let b = i / p.D;
  var s = 0.0;
  var cnt = 0.0;
  for (var l = 0u; l < p.L; l++) {
    if (m[b * p.L + l] != 0u) {
      s += x[(b * p.L + l) * p.D + j];
      cnt += 1.0;
    }
  }
  out[i] = s / max(cnt, 1.0);
}
