// The one home of the generation settings: for each, its range, default, the UI's step and how a value is clamped,
// and the message that refuses a bad value. DOM-free, so the UI (src/ui/prompt-panel.ts), the worker API and its
// request check (src/worker/api.ts, src/worker/generation/requests.ts) and the pipeline (pipeline.ts) all read it from here.
// A request is validated once, at the worker boundary (checkGenerateRequest); the pipeline only asserts its inputs.

/** One numeric generation setting. Values are accepted in [min, max]; `integer` ones are rounded. */
export interface NumericSetting {
  readonly min: number;
  readonly max: number;
  /** Used when a request leaves the setting out (the seed has none: a request must give it). */
  readonly default?: number;
  /** Increment of the UI's number field. */
  readonly step?: number;
  readonly integer?: boolean;
}

export const GENERATION_SETTINGS = {
  /** MaskGIT steps S. */
  steps: { min: 1, max: 64, default: 12, step: 1, integer: true },
  /** Classifier-free guidance scale g (1 = off). */
  guidance: { min: 0, max: 20, default: 4, step: 0.5 },
  /** Choice temperature of the re-masking noise. */
  tau: { min: 0, max: 100, default: 4.5 },
  /** Token sampling temperature. */
  temperature: { min: 0.01, max: 10, default: 1 },
  /** u32 seed. */
  seed: { min: 0, max: 0xffffffff, integer: true },
} as const satisfies Record<string, NumericSetting>;

export type GenerationSettingName = keyof typeof GENERATION_SETTINGS;

/** Short text for a value in a message: strings are quoted and cut to 40 characters. */
export const showValue = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : typeof v === 'number' ? String(v) : v === null ? 'null' : typeof v;

/** Why `v` is not an acceptable value of setting `name` (range check before rounding), or undefined when it is. */
export function settingProblem(name: GenerationSettingName, v: unknown): string | undefined {
  const { min, max } = GENERATION_SETTINGS[name];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) return `${name} is ${showValue(v)}; it must be a number from ${min} to ${max}`;
  return undefined;
}

/** A finite number moved into the setting's range and rounded when the setting is an integer (the UI's fields). */
export function clampSetting(name: GenerationSettingName, v: number): number {
  const s: NumericSetting = GENERATION_SETTINGS[name];
  const c = Math.min(s.max, Math.max(s.min, v));
  return s.integer ? Math.round(c) : c;
}
