// The training-side randomness of a fine-tuning step, as training/mmamba/sampling.py does it (docs/architecture.md
// "Training objective"), drawn from the shared counter RNG of docs/architecture.md so a seed replays a run exactly:
//   mask_for_training: per row t ~ U(0,1), r = cos(π/2·t), mask n = clamp(ceil(r·HW), 1, HW) positions: the n
//                      smallest of HW uniform scores (ties: lower index first), input = [MASK] there
//   drop_text:         each row's caption replaced by the empty prompt with probability p
// Streams (u32): FINETUNE_STREAM + 4·step + {0: t (index b), 1: scores (index b·HW + pos), 2: text drop (index b)};
// disjoint from the sampler's streams (2·step + {0, 1}, step < 64) and the LoRA init's.
import { uniform } from '../engine/rng';
import type { MaskedBatch } from './mmamba_autodiff';

export const FINETUNE_STREAM = 0x46540000; // 'FT\0\0'

const stream = (step: number, k: number) => (FINETUNE_STREAM + 4 * step + k) >>> 0;

export interface TrainingMask {
  /** (B, HW) model input: tokens with masked positions set to maskId. */
  imgTokens: Uint32Array;
  /** (B, HW) 1 = masked (the loss counts it). */
  mask: Uint32Array;
  /** Masked positions per row. */
  counts: number[];
}

export function maskForTraining(
  tokens: ArrayLike<number>,
  B: number,
  HW: number,
  maskId: number,
  seed: number,
  step: number,
): TrainingMask {
  const imgTokens = new Uint32Array(B * HW);
  const mask = new Uint32Array(B * HW);
  const counts: number[] = [];
  const order = new Array<number>(HW);
  const scores = new Float64Array(HW);
  for (let b = 0; b < B; b++) {
    const t = uniform(seed, stream(step, 0), b);
    const r = Math.cos((Math.PI / 2) * t);
    const n = Math.min(HW, Math.max(1, Math.ceil(r * HW)));
    for (let p = 0; p < HW; p++) {
      scores[p] = uniform(seed, stream(step, 1), b * HW + p);
      order[p] = p;
    }
    order.sort((i, j) => scores[i]! - scores[j]! || i - j);
    for (let p = 0; p < HW; p++) imgTokens[b * HW + p] = tokens[b * HW + p]!;
    for (let k = 0; k < n; k++) {
      const at = b * HW + order[k]!;
      mask[at] = 1;
      imgTokens[at] = maskId;
    }
    counts.push(n);
  }
  return { imgTokens, mask, counts };
}

/** textIds (B, Lt) with each row replaced by emptyIds (Lt) with probability p. */
export function dropText(
  textIds: ArrayLike<number>,
  B: number,
  emptyIds: ArrayLike<number>,
  p: number,
  seed: number,
  step: number,
): Int32Array {
  const Lt = emptyIds.length;
  const out = Int32Array.from(textIds);
  for (let b = 0; b < B; b++) if (p > 0 && uniform(seed, stream(step, 2), b) < p) out.set(Array.from(emptyIds), b * Lt);
  return out;
}

/** The empty prompt as BPETokenizer.encode('') writes it: [bos, eos, pad, …] (bpe.py: pad 0, bos 1, eos 2). */
export function defaultEmptyTextIds(Lt: number): Int32Array {
  const ids = new Int32Array(Lt);
  ids[0] = 1;
  if (Lt > 1) ids[1] = 2;
  return ids;
}

/** The masked batch in micro-batches of at most `size` rows, each with its share of the batch's masked positions
 *  (the loss weight that makes the micro-batches' gradients add up to the whole batch's). tokens (B, HW) are the
 *  targets, text (B, Lt) the caption ids after dropText, m the batch's maskForTraining. */
export function* microBatches(
  tokens: Int32Array,
  text: Int32Array,
  m: TrainingMask,
  size: number,
  Lt: number,
  HW: number,
): Generator<{ mb: MaskedBatch; share: number }> {
  const B = m.counts.length;
  const total = m.counts.reduce((a, b) => a + b, 0);
  for (let r0 = 0; r0 < B; r0 += size) {
    const n = Math.min(size, B - r0);
    const share = m.counts.slice(r0, r0 + n).reduce((a, b) => a + b, 0) / total;
    yield {
      share,
      mb: {
        batch: n,
        textIds: text.subarray(r0 * Lt, (r0 + n) * Lt),
        imgTokens: m.imgTokens.subarray(r0 * HW, (r0 + n) * HW),
        targets: Uint32Array.from(tokens.subarray(r0 * HW, (r0 + n) * HW)),
        mask: m.mask.subarray(r0 * HW, (r0 + n) * HW),
      },
    };
  }
}
