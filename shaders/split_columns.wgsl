// Column slice of a row-major matrix: out[r, j] = x[r, offset + j] for j < len (rows of width S).
// Glue for x_proj's output x_dbl (…, dt_rank + 2N): the dt columns feed the dt_proj matmul as a dense
// (…, dt_rank) tensor (B and C are read in place by the scan through column offsets). One thread per output.

struct Params { n: u32, S: u32, offset: u32, len: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // (rows, S)
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // (rows, len)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= p.n) { return; }
  out[i] = x[(i / p.len) * p.S + p.offset + i % p.len];
}
