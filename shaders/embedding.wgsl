// Embedding gather: out[i, :] = table[clamp(ids[i], 0, V − 1), :].
// Layout: ids u32 (R) (any leading shape, flattened), table (V, D) row-major, out (R, D).
// Out-of-range ids are clamped to the last row (V − 1) so that no read leaves the table; callers that need to
// detect bad ids must check them on the CPU (the tokenizer and the sampler never produce them).
// One thread per output element over a 2-D grid of workgroups (engine.grid1d).

struct Params { n: u32, D: u32, V: u32, _p0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= p.n) { return; }
  let r = i / p.D;
  let j = i - r * p.D;
  let id = min(ids[r], p.V - 1u);
  out[i] = table[id * p.D + j];
}
