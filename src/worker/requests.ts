// The worker's check of a generation request that arrived over postMessage: anything can come through (a page
// script, a stale build, devtools), so every field is checked for type and range before any work starts, and a bad
// request is refused with one message naming the field, what it was, and what is allowed. Ranges are the UI's
// (src/ui/prompt-panel.ts); the model code re-checks its own invariants.
import type { GenerateRequest } from './api';

/** Bounds of the numeric settings: [min, max]; steps are rounded to an integer. */
export const REQUEST_LIMITS = {
  steps: [1, 64],
  guidance: [0, 20],
  tau: [0, 100],
  temperature: [0.01, 10],
  seed: [0, 0xffffffff],
} as const;

/** Longest prompt text accepted over the wire at all, in UTF-16 units. Prompts longer than MAX_PROMPT_CHARS code
 *  points are cut (and the answer says so); beyond this a request is refused outright. */
export const MAX_PROMPT_WIRE_CHARS = 1_000_000;

export class InvalidGenerateRequestError extends Error {
  constructor(why: string) {
    super(`Invalid generation request: ${why}.`);
    this.name = 'InvalidGenerateRequestError';
  }
}

const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : typeof v === 'number' ? String(v) : v === null ? 'null' : typeof v);

function num(r: Record<string, unknown>, key: keyof typeof REQUEST_LIMITS, required: boolean): number | undefined {
  const v = r[key];
  if (v === undefined && !required) return undefined;
  const [lo, hi] = REQUEST_LIMITS[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi)
    throw new InvalidGenerateRequestError(`${key} is ${show(v)}; it must be a number from ${lo} to ${hi}`);
  return v;
}

function text(r: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = r[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') throw new InvalidGenerateRequestError(`${key} is ${show(v)}; it must be text`);
  if (v.length > MAX_PROMPT_WIRE_CHARS) throw new InvalidGenerateRequestError(`${key} is ${v.length} characters; at most ${MAX_PROMPT_WIRE_CHARS} are accepted`);
  return v;
}

/** The request as a well-formed GenerateRequest (steps rounded, seed a u32), or InvalidGenerateRequestError. */
export function checkGenerateRequest(req: unknown): GenerateRequest {
  if (req === null || typeof req !== 'object' || Array.isArray(req))
    throw new InvalidGenerateRequestError(`expected an object like {prompt, seed, steps}, got ${Array.isArray(req) ? 'a list' : show(req)}`);
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
  if (r.adapter !== undefined && r.adapter !== '') {
    if (typeof r.adapter !== 'string' || r.adapter.length > 256) throw new InvalidGenerateRequestError(`adapter is ${show(r.adapter)}; it must be an adapter's name`);
    out.adapter = r.adapter;
  }
  return out;
}
