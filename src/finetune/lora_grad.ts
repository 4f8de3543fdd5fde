// The LoRA parts of a training step on the GPU, composed from the existing matmul / elementwise ops:
//   W_eff = W + s·B·A                      (s = alpha / rank; batched per direction for K-stacked weights)
//   dA = s·Bᵀ·dW_eff,   dB = s·dW_eff·Aᵀ  (chain rule through the product; dW_eff from mmamba_autodiff.ts)
// Used by trainer.ts and checked against PyTorch autograd (tests/finetune_lora_grad.test.ts).
import type { Engine } from '../engine/engine';
import { axpby } from '../engine/ops/elementwise';
import { matmul } from '../engine/ops/matmul';
import type { Tensor } from '../engine/tensor';

export interface FactorTensors {
  /** The adapted base parameter. */
  name: string;
  A: Tensor; // (r, in) or (K, r, in)
  B: Tensor; // (out, r) or (K, out, r)
}

/** name → W + s·B·A (new tensors, the caller disposes them). */
export function effectiveWeights(
  e: Engine,
  base: (name: string) => Tensor,
  factors: readonly FactorTensors[],
  scale: number,
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const f of factors) {
    const ba = matmul(e, f.B, f.A, { label: 'lora_BA' }); // (out, in) or (K, out, in)
    out.set(f.name, axpby(e, base(f.name), ba, 1, scale));
    ba.dispose();
  }
  return out;
}

/** dA, dB of every factor from dW_eff (the dW tensors are disposed). */
export function factorGradients(
  e: Engine,
  dW: Map<string, Tensor>,
  factors: readonly FactorTensors[],
  scale: number,
): Array<{ dA: Tensor; dB: Tensor }> {
  return factors.map((f) => {
    const g = dW.get(f.name)!;
    const gs = axpby(e, g, g, scale, 0); // s·dW
    g.dispose();
    const dA = matmul(e, f.B, gs, { transA: true, label: 'lora_dA' }); // (r, in) / (K, r, in)
    const dB = matmul(e, gs, f.A, { transB: true, label: 'lora_dB' }); // (out, r) / (K, out, r)
    gs.dispose();
    return { dA, dB };
  });
}
