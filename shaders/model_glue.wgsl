// Small glue kernels the models need between the big ops (src/engine/ops/model_glue.ts), each one thread per
// output element over a 2-D grid of workgroups (engine.grid1d), rows contiguous, no strides beyond those below:
//   gated_residual  out (B, L, D) = h + gate[b, goff + j] · y        adaLN-Zero residual: gate is a column slice
//                                                                     of the packed (B, W) modulation, over L
//   concat_rows     out (B, L1 + L2, D) = [a (B, L1, D) ; c (B, L2, D)] along the sequence axis
//   slice_rows      out (B, len, D) = a[:, start : start + len, :]
// (masked_mean, the text encoder's pooling, is in masked_mean.wgsl: it binds a u32 mask.)

struct Params { n: u32, D: u32, L: u32, W: u32, off: u32, L2: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
// Each entry binds a prefix of these (slice_rows 0..2, concat_rows 0..3, gated_residual 0..4).
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;

fn index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 { return (wid.x + wid.y * nwg.x) * 256u + lid; }

// a = h, c = y, g = gate (B, W); L = rows per batch.
@compute @workgroup_size(256)
fn gated_residual(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.n) { return; }
  let j = i % p.D;
  let b = i / (p.D * p.L);
  out[i] = a[i] + g[b * p.W + p.off + j] * c[i];
}

// a (B, L, D), c (B, L2, D) -> out (B, L + L2, D).
@compute @workgroup_size(256)
fn concat_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.n) { return; }
  let j = i % p.D;
  let Lo = p.L + p.L2;
  let r = (i / p.D) % Lo;
  let b = i / (p.D * Lo);
  if (r < p.L) {
    out[i] = a[(b * p.L + r) * p.D + j];
  } else {
    out[i] = c[(b * p.L2 + (r - p.L)) * p.D + j];
  }
}

// a (B, L, D) -> out (B, L2, D) = rows off .. off + L2 of each batch.
@compute @workgroup_size(256)
fn slice_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.n) { return; }
  let j = i % p.D;
  let r = (i / p.D) % p.L2;
  let b = i / (p.D * p.L2);
  out[i] = a[(b * p.L + p.off + r) * p.D + j];
}
