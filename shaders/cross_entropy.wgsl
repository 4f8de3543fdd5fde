// Masked-token cross-entropy (the M-Mamba training objective, docs/architecture.md): fused log-softmax + NLL and its gradient.
//   count = Σ_r mask_r;  loss = (1/count) Σ_{r: mask_r ≠ 0} (logsumexp(logits_r) − logits_r[target_r])
//   dlogits_r = scale · mask_r · (softmax(logits_r) − onehot(target_r)) / count      (0 at unmasked rows)
// Layout: logits, dlogits (R, V) row-major (R = B·HW positions); targets, mask u32 (R) (mask ≠ 0: counted;
// targets ≥ V are clamped to V − 1); rowLoss (R) scratch; loss (2) = [mean loss, count]. scale = dL/dloss.
// The TS wrapper builds one module per entry from the prelude plus its `//#entry` section.
// Idea: `rows` is one workgroup per row (max, then Σ exp(l − max), tree reductions in workgroup memory); every
// workgroup also counts the mask itself (R is small), so the gradient is written in the same pass. Work is not
// branched on the mask (storage reads are non-uniform and the reductions need uniform barriers): it is multiplied
// by it. `loss` sums the row losses in one workgroup in fixed order (deterministic).

override WG: u32 = 256u;

struct Params { R: u32, V: u32, scale: f32, _p0: u32 }

@group(0) @binding(0) var<uniform> p: Params;

var<workgroup> red: array<f32, WG>;

fn wgReduce(v: f32, lid: u32, isMax: bool) -> f32 {
  workgroupBarrier();
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), isMax); }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

//#entry rows
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read> mask: array<u32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(5) var<storage, read_write> rowLoss: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.R) { return; }                       // uniform per workgroup
  var c = 0.0;
  for (var r = lid; r < p.R; r += WG) { c += select(0.0, 1.0, mask[r] != 0u); }
  let count = max(wgReduce(c, lid, false), 1.0);
  let base = row * p.V;
  var m = -3.4e38;
  for (var i = lid; i < p.V; i += WG) { m = max(m, logits[base + i]); }
  m = wgReduce(m, lid, true);
  var s = 0.0;
  for (var i = lid; i < p.V; i += WG) { s += exp(logits[base + i] - m); }
  let lse = m + log(wgReduce(s, lid, false));
  let on = select(0.0, 1.0, mask[row] != 0u);
  let tgt = min(targets[row], p.V - 1u);
  let k = on * p.scale / count;
  for (var i = lid; i < p.V; i += WG) {
    dlogits[base + i] = k * (exp(logits[base + i] - lse) - select(0.0, 1.0, i == tgt));
  }
  if (lid == 0u) { rowLoss[row] = on * (lse - logits[base + tgt]); }
}

//#entry loss
@group(0) @binding(1) var<storage, read> rowLoss: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;   // [mean, count]

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  var c = 0.0;
  for (var r = lid; r < p.R; r += WG) { s += rowLoss[r]; c += select(0.0, 1.0, mask[r] != 0u); }
  let total = wgReduce(s, lid, false);
  let count = wgReduce(c, lid, false);
  if (lid == 0u) { loss[0] = total / max(count, 1.0); loss[1] = count; }
}
