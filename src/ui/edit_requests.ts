// The editing requests the page sends, DOM-free: re-generate a painted region, image-to-image at a strength, and
// "vary this" (image-to-image from one variation at VARY_STRENGTH). Each starts from the last request's settings
// (prompt, seed, steps, guidance, …) and returns either a GenerateRequest or the reason it cannot be made, in the
// engine's own words (editProblem, src/model/settings.ts), so the page shows the message without a round trip.
import { editProblem, type Remask } from '../model/settings';
import { DEFAULT_REMASK, maskedCountForStrength } from '../model/strength_mask';
import type { GenerateRequest } from '../worker/api';
import { keepFromMask } from './edit_mask';

/** Strength of "vary this": a quarter of the tokens re-drawn keeps the picture recognisable. */
export const VARY_STRENGTH = 0.25;

/** A picture to edit: its token grid and, for an unfinished step, which tokens are still [MASK]. */
export interface EditSource {
  tokens: Uint32Array;
  unknown?: Uint8Array;
}

export type Built = { ok: true; req: GenerateRequest } | { ok: false; problem: string };

/** The settings of `base` without the editing and variation fields. */
function plain(base: GenerateRequest): GenerateRequest {
  const { initTokens: _i, keep: _k, variations: _v, strength: _s, remask: _r, ...rest } = base;
  return rest;
}

function edit(base: GenerateRequest, tokens: Uint32Array, keep: Uint8Array): Built {
  const problem = editProblem(tokens, keep);
  return problem
    ? { ok: false, problem: `${problem[0]!.toUpperCase()}${problem.slice(1)}.` }
    : { ok: true, req: { ...plain(base), initTokens: tokens.slice(), keep } };
}

/** "Draw N variations" of `base` (its edit fields dropped: variations of the plain request). */
export function variationsRequest(base: GenerateRequest, count: number): Built {
  return { ok: true, req: { ...plain(base), variations: count } };
}

/** Re-generate the painted region (mask: 1 = re-generate) of `src`, the rest kept. */
export function regionRequest(base: GenerateRequest, src: EditSource, mask: Uint8Array): Built {
  return edit(base, src.tokens, keepFromMask(mask, src.unknown));
}

/** Image-to-image: round(strength·HW) tokens of `src` re-drawn, the engine choosing which by `remask` (at random
 *  by the request's seed, or the model's least confident; src/model/strength_mask.ts); still-masked tokens of an
 *  unfinished step are always re-drawn. Strength 1 is a plain generation; strength 0 re-draws nothing and is
 *  refused. */
export function imageToImageRequest(
  base: GenerateRequest,
  src: EditSource,
  strength: number,
  remask: Remask = DEFAULT_REMASK,
): Built {
  const hw = src.tokens.length;
  const n = maskedCountForStrength(hw, strength);
  if (n === 0) return { ok: false, problem: 'Strength 0 keeps the picture as it is: raise it to re-draw part of it.' };
  if (n === hw) return { ok: true, req: plain(base) };
  return { ok: true, req: { ...plain(base), initTokens: src.tokens.slice(), strength, remask } };
}

/** "Vary this": image-to-image from one picture at VARY_STRENGTH, with `seed`. */
export function varyRequest(base: GenerateRequest, tokens: Uint32Array, seed: number, remask?: Remask): Built {
  return imageToImageRequest({ ...base, seed }, { tokens }, VARY_STRENGTH, remask);
}
