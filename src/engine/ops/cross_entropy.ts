// Masked-token cross-entropy, forward and gradient in one pass (shaders/cross_entropy.wgsl): the training objective
// of docs/architecture.md "Training objective" (cross-entropy on masked positions, mean over them), as PyTorch's
// F.cross_entropy(logits[mask], targets[mask]) and its gradient (softmax − onehot)/count at masked rows, 0 elsewhere.
import src from '../../../shaders/cross_entropy.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

const [prelude, ...sections] = src.split('//#entry ');
const CODE: Record<string, string> = Object.fromEntries(
  sections.map((s) => [s.slice(0, s.indexOf('\n')).trim(), prelude + s.slice(s.indexOf('\n'))]),
);

export interface CrossEntropyResult {
  /** (2) = [mean loss over masked positions, number of masked positions]. */
  loss: Tensor;
  /** like logits: scale · (softmax − onehot) / count at masked rows, 0 elsewhere. */
  dlogits: Tensor;
}

/** logits (…, V) f32; targets, mask u32 (…) with the same leading shape (mask ≠ 0: position counts).
 *  `scale` multiplies the gradient (dL/dloss, e.g. 1 / gradient-accumulation steps). */
export function crossEntropyMasked(
  e: Engine,
  logits: Tensor,
  targets: Tensor,
  mask: Tensor,
  scale = 1,
): CrossEntropyResult {
  const V = logits.shape[logits.shape.length - 1] ?? 0;
  const R = V === 0 ? 0 : logits.size / V;
  if (logits.dtype !== 'f32' || V === 0)
    throw new ShapeError(`crossEntropyMasked: logits must be f32 (…, V), got ${logits}`);
  if (targets.dtype !== 'u32' || mask.dtype !== 'u32' || targets.size !== R || mask.size !== R)
    throw new ShapeError(`crossEntropyMasked: targets ${targets} and mask ${mask} must be u32 with ${R} elements`);
  const dlogits = e.empty(logits.shape, 'f32', 'dlogits');
  const rowLoss = e.empty([Math.max(1, R)], 'f32', 'ce_row_loss');
  const loss = e.empty([2], 'f32', 'ce_loss');
  const u = uniforms([R, V, [scale, 'f32'], 0]);
  e.dispatch({
    code: CODE.rows!,
    bindings: [u, logits, targets, mask, dlogits, rowLoss],
    workgroups: grid1d(R),
    label: 'ce_rows',
  });
  e.dispatch({ code: CODE.loss!, bindings: [u, rowLoss, mask, loss], workgroups: [1], label: 'ce_loss' });
  rowLoss.dispose();
  return { loss, dlogits };
}
