// Elementwise maps over one or two f32 tensors: unary activations and binary arithmetic with broadcasting of
// `b` along the leading axis (b has `bSize` elements and is indexed i % bSize; bSize == n is plain elementwise).
// One thread per element; the linear index spans a 2-D grid of workgroups (engine.grid1d).

override OP: u32 = 0u; // 0 silu, 1 gelu(tanh), 2 softplus, 3 add, 4 mul, 5 scale-add (a*s0 + b*s1), 6 copy, 7 neg-exp (-exp)

struct Params { n: u32, bSize: u32, s0: f32, s1: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn gelu_tanh(x: f32) -> f32 {
  let c = 0.7978845608028654; // sqrt(2/pi)
  let inner = c * (x + 0.044715 * x * x * x);
  // ½(1 + tanh z) = sigmoid(2z): no cancellation where tanh → −1 (x ≪ 0); clamp keeps exp finite
  return x / (1.0 + exp(-2.0 * clamp(inner, -40.0, 40.0)));
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= p.n) { return; }
  let x = a[i];
  var y: f32;
  switch OP {
    case 0u: { y = x / (1.0 + exp(-x)); }
    case 1u: { y = gelu_tanh(x); }
    case 2u: { y = softplus(x); }
    case 3u: { y = x + b[i % p.bSize]; }
    case 4u: { y = x * b[i % p.bSize]; }
    case 5u: { y = x * p.s0 + b[i % p.bSize] * p.s1; }
    case 6u: { y = x; }
    default: { y = -exp(x); }
  }
  out[i] = y;
}
