// Backward of the pointwise activations (shaders/elementwise.wgsl, shaders/geglu.wgsl): dx = dy · f'(x),
// recomputing f'(x) from the saved input x (nothing else is stored by the forward).
//   OP 0 silu:     f' = s·(1 + x·(1 − s)),  s = sigmoid(x)
//   OP 1 gelu:     tanh approximation, f' = ½(1 + th) + ½x(1 − th²)·c(1 + 3·0.044715·x²), th = tanh(c(x + 0.044715x³))
//   OP 2 softplus: f' = sigmoid(x) (torch's threshold: 1 above 20)
//   OP 3 geglu:    x (R, 2F) = [a ; g], y = gelu(a)·g → dx[:, :F] = dy·g·gelu'(a), dx[:, F:] = dy·gelu(a)
// Layout: x, dx (n) flat (geglu: (R, 2F)); dy (n) flat (geglu: (R, F)). One thread per dy element, 2-D grid.

override OP: u32 = 0u;

struct Params { n: u32, F: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

const GC: f32 = 0.7978845608028654; // sqrt(2/pi)

fn sigmoid(v: f32) -> f32 { return 1.0 / (1.0 + exp(-v)); }

// 1 + tanh(z) = 2·sigmoid(2z) and 1 − tanh² = 4·s(1 − s): no cancellation where tanh → −1 (x ≪ 0), unlike 1 + tanh(z).
fn gelu(v: f32) -> f32 { return v * sigmoid(2.0 * GC * (v + 0.044715 * v * v * v)); }

fn geluGrad(v: f32) -> f32 {
  let s = sigmoid(2.0 * GC * (v + 0.044715 * v * v * v));
  return s + 2.0 * v * s * (1.0 - s) * GC * (1.0 + 3.0 * 0.044715 * v * v);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= p.n) { return; }
  let g = dy[i];
  if (OP == 3u) {
    let r = i / p.F;
    let src = r * 2u * p.F + (i - r * p.F);
    let a = x[src];
    let gate = x[src + p.F];
    dx[src] = g * gate * geluGrad(a);
    dx[src + p.F] = g * gelu(a);
    return;
  }
  let v = x[i];
  var d: f32;
  switch OP {
    case 0u: { let s = sigmoid(v); d = s * (1.0 + v * (1.0 - s)); }
    case 1u: { d = geluGrad(v); }
    default: { d = select(sigmoid(v), 1.0, v > 20.0); }
  }
  dx[i] = g * d;
}
