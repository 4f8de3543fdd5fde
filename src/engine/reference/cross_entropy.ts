// CPU reference for shaders/cross_entropy.wgsl, in f64: masked mean cross-entropy and its gradient w.r.t. logits.
// logits (R, V); targets, mask (R). loss = mean over mask ≠ 0 of logsumexp − logit[target]; count = Σ mask.
export function crossEntropyMaskedRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  mask: ArrayLike<number>,
  V: number,
  scale = 1,
): { loss: number; count: number; dlogits: Float64Array } {
  const R = logits.length / V;
  let count = 0;
  for (let r = 0; r < R; r++) if (mask[r]) count++;
  const c = Math.max(count, 1);
  const dlogits = new Float64Array(logits.length);
  let total = 0;
  for (let r = 0; r < R; r++) {
    if (!mask[r]) continue;
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, logits[r * V + i]!);
    let s = 0;
    for (let i = 0; i < V; i++) s += Math.exp(logits[r * V + i]! - m);
    const lse = m + Math.log(s);
    const t = Math.min(targets[r]!, V - 1);
    total += lse - logits[r * V + t]!;
    for (let i = 0; i < V; i++)
      dlogits[r * V + i] = (scale * (Math.exp(logits[r * V + i]! - lse) - (i === t ? 1 : 0))) / c;
  }
  return { loss: total / c, count, dlogits };
}
