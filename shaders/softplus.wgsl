// softplus(x) = log(1 + e^x) as torch computes it (x above 20 passes through), prepended (as text) to every
// kernel that needs it. Written as max(x, 0) + log1p(e^-|x|) so it never overflows. WGSL has no log1p, and
// its log() is only accurate to an absolute 2^-21 near 1, so log1p(t), t in (0, 1], is evaluated without log:
// log1p(t) = 2·atanh(s), s = t / (2 + t) ≤ 1/3, by its odd series to s^13 (relative truncation error < 2e-8).
fn log1pUnit(t: f32) -> f32 {
  let s = t / (2.0 + t);
  let s2 = s * s;
  return 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0 + s2 / 13.0))))));
}

fn softplus(x: f32) -> f32 {
  if (x > 20.0) { return x; }
  return max(x, 0.0) + log1pUnit(exp(-abs(x)));
}
