// The worker's check of a generation request that arrived over postMessage: anything can come through (a page
// script, a stale build, devtools), so every field is checked for type and range before any work starts, and a bad
// request is refused with one message naming the field, what it was, and what is allowed. This is the one
// user-facing check of a generation request; ranges and messages come from src/model/settings.ts, which the UI
// reads too; the pipeline only asserts its inputs.
import {
  editProblem,
  strengthProblem,
  GENERATION_SETTINGS as SETTINGS,
  settingProblem,
  showValue as show,
  type GenerationSettingName,
} from '../../model/settings';
import type { GenerateRequest } from '../api';
import { ADAPTER_STRENGTH } from '../../finetune/defaults';

/** Bounds of the numeric settings, [min, max], as GENERATION_SETTINGS gives them; steps are rounded to an integer. */
export const REQUEST_LIMITS = Object.fromEntries(
  Object.entries(SETTINGS).map(([k, s]) => [k, [s.min, s.max] as const]),
) as {
  readonly [K in GenerationSettingName]: readonly [(typeof SETTINGS)[K]['min'], (typeof SETTINGS)[K]['max']];
};

/** Longest prompt text accepted over the wire at all, in UTF-16 units. Prompts longer than MAX_PROMPT_CHARS code
 *  points are cut (and the answer says so); beyond this a request is refused outright. */
export const MAX_PROMPT_WIRE_CHARS = 1_000_000;

/** Largest GenerateRequest.previewEveryMs, in ms: an hour outlasts the runs tests make, so every step between the
 *  first and the final is paced away (what they ask for to know which steps come without pixels). */
export const PREVIEW_EVERY_MS_MAX = 3_600_000;

export class InvalidGenerateRequestError extends Error {
  constructor(why: string) {
    super(`Invalid generation request: ${why}.`);
    this.name = 'InvalidGenerateRequestError';
  }
}

function num(r: Record<string, unknown>, key: GenerationSettingName, required: boolean): number | undefined {
  const v = r[key];
  if (v === undefined && !required) return undefined;
  const problem = settingProblem(key, v);
  if (problem) throw new InvalidGenerateRequestError(problem);
  return v as number;
}

function text(r: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = r[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') throw new InvalidGenerateRequestError(`${key} is ${show(v)}; it must be text`);
  if (v.length > MAX_PROMPT_WIRE_CHARS)
    throw new InvalidGenerateRequestError(
      `${key} is ${v.length} characters; at most ${MAX_PROMPT_WIRE_CHARS} are accepted`,
    );
  return v;
}

/** The request as a well-formed GenerateRequest (steps rounded, seed a u32), or InvalidGenerateRequestError. */
export function checkGenerateRequest(req: unknown): GenerateRequest {
  if (req === null || typeof req !== 'object' || Array.isArray(req))
    throw new InvalidGenerateRequestError(
      `expected an object like {prompt, seed, steps}, got ${Array.isArray(req) ? 'a list' : show(req)}`,
    );
  const r = req as Record<string, unknown>;
  const out: GenerateRequest = { prompt: text(r, 'prompt', true)!, seed: Math.floor(num(r, 'seed', true)!) >>> 0 };
  const negativePrompt = text(r, 'negativePrompt', false);
  if (negativePrompt !== undefined) out.negativePrompt = negativePrompt;
  const steps = num(r, 'steps', false);
  if (steps !== undefined) out.steps = Math.round(steps);
  for (const key of ['guidance', 'tau', 'temperature'] as const) {
    const v = num(r, key, false);
    if (v !== undefined) out[key] = v;
  }
  const variations = num(r, 'variations', false);
  if (variations !== undefined) {
    if (!Number.isInteger(variations))
      throw new InvalidGenerateRequestError(`variations is ${variations}; it must be a whole number`);
    out.variations = variations;
  }
  if (r.strength !== undefined || r.remask !== undefined) {
    // image-to-image: the engine chooses the kept tokens (src/model/strength_mask.ts)
    const problem = strengthProblem(r.initTokens, r.keep, r.strength, r.remask);
    if (problem) throw new InvalidGenerateRequestError(problem);
    out.initTokens = Uint32Array.from(r.initTokens as ArrayLike<number>);
    out.strength = r.strength as number;
    if (r.remask !== undefined) out.remask = r.remask as 'random' | 'confidence';
  } else if (r.initTokens !== undefined || r.keep !== undefined) {
    const edit = editProblem(r.initTokens, r.keep);
    if (edit) throw new InvalidGenerateRequestError(edit);
    out.initTokens = Uint32Array.from(r.initTokens as ArrayLike<number>);
    out.keep = Uint8Array.from(r.keep as ArrayLike<number>);
  }
  if (r.previewEveryMs !== undefined) {
    const v = r.previewEveryMs;
    if (typeof v !== 'number' || !(v >= 0 && v <= PREVIEW_EVERY_MS_MAX))
      throw new InvalidGenerateRequestError(
        `previewEveryMs is ${show(v)}; it must be a number of milliseconds from 0 (every step's preview) to ${PREVIEW_EVERY_MS_MAX}`,
      );
    out.previewEveryMs = v;
  }
  if (r.adapter !== undefined && r.adapter !== '') {
    if (typeof r.adapter !== 'string' || r.adapter.length > 256)
      throw new InvalidGenerateRequestError(`adapter is ${show(r.adapter)}; it must be an adapter's name`);
    out.adapter = r.adapter;
    if (r.adapterStrength !== undefined) out.adapterStrength = adapterStrength(r.adapterStrength);
    if (r.adapterEveryPrompt !== undefined) {
      if (typeof r.adapterEveryPrompt !== 'boolean')
        throw new InvalidGenerateRequestError(
          `adapterEveryPrompt is ${show(r.adapterEveryPrompt)}; it must be true (apply the adapter to every prompt) or false (only to prompts with its word)`,
        );
      out.adapterEveryPrompt = r.adapterEveryPrompt;
    }
  }
  return out;
}

/** The adapter's strength within ADAPTER_STRENGTH. */
function adapterStrength(v: unknown): number {
  const { min, max } = ADAPTER_STRENGTH;
  if (typeof v !== 'number' || !(v >= min && v <= max))
    throw new InvalidGenerateRequestError(`adapterStrength is ${show(v)}; it must be a number from ${min} to ${max}`);
  return v;
}
