// Embedding backward (scatter-add into rows), deterministic: dtable[v, j] = Σ_{r: clamp(ids[r]) = v} dy[r, j].
// Layout: ids u32 (R), dy (R, D), dtable (V, D); ids ≥ V count for row V − 1, as the forward's clamp.
// Idea: one thread per (v, j) output element loops over all R ids in order (a gather, no atomics, no sort); R is a
// few hundred positions per batch, so the O(V·D·R) id reads are cheap and L1-resident (the same ids for all threads).

struct Params { n: u32, D: u32, V: u32, R: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dtable: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;       // over (V, D)
  if (i >= p.n) { return; }
  let v = i / p.D;
  let j = i - v * p.D;
  var acc = 0.0;
  for (var r = 0u; r < p.R; r++) {
    if (min(ids[r], p.V - 1u) == v) { acc += dy[r * p.D + j]; }
  }
  dtable[i] = acc;
}
