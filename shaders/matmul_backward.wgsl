// Column sums for the Linear backward: d bias (N) = Σ_r dy[r, :] over the R rows of dy (R, N).
// One thread per column, rows summed in order (deterministic; consecutive threads read consecutive columns).
// (dX and dW reuse the forward matmul with transposed operands; see src/engine/ops/matmul_backward.ts.)

struct Params { R: u32, N: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (n >= p.N) { return; }
  var acc = 0.0;
  for (var r = 0u; r < p.R; r++) { acc += dy[r * p.N + n]; }
  out[n] = acc;
}
