// The one home of the generation settings: for each, its range, default, the UI's step and how a value is clamped,
// and the message that refuses a bad value. DOM-free, so the UI (src/ui/prompt_panel.ts), the worker API and its
// request check (src/worker/api.ts, src/worker/generation/requests.ts) and the pipeline (pipeline.ts) all read it from
// here. A request is validated once, at the worker boundary (checkGenerateRequest); the pipeline only asserts its
// inputs.

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
  /** Choice temperature of the re-masking noise (1.5: the sampling sweep's winner on M-Mamba v2, and the default
   *  M-Mamba M's recommendation too; docs/evaluation.md). */
  tau: { min: 0, max: 100, default: 1.5 },
  /** Token sampling temperature. */
  temperature: { min: 0.01, max: 10, default: 1 },
  /** u32 seed. */
  seed: { min: 0, max: 0xffffffff, integer: true },
  /** Images drawn at once with seeds seed, seed+1, … (one batched forward per step). */
  variations: { min: 1, max: 8, default: 1, step: 1, integer: true },
} as const satisfies Record<string, NumericSetting>;

export type GenerationSettingName = keyof typeof GENERATION_SETTINGS;

/** The settings a shipped generator may recommend for itself (`sampling` in its index.json entry: its sampling
 *  sweep's winner). They fill a request that leaves them out and the page's fields when the model is picked; a
 *  setting a generator does not name falls back to GENERATION_SETTINGS' default. */
export const SAMPLING_SETTINGS = ['steps', 'guidance', 'tau', 'temperature'] as const;
export type SamplingSettingName = (typeof SAMPLING_SETTINGS)[number];
export type SamplingDefaults = Partial<Record<SamplingSettingName, number>>;

/** A sampling setting's default for a generator: its own recommendation, else the page-wide default. */
export function samplingDefault(name: SamplingSettingName, model?: SamplingDefaults | null): number {
  return model?.[name] ?? GENERATION_SETTINGS[name].default;
}

/** Why `v` is not an acceptable `sampling` object of an index.json entry, or undefined when it is: an object of
 *  SAMPLING_SETTINGS names, each in its setting's range (integer settings whole numbers). */
export function samplingDefaultsProblem(v: unknown): string | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    return `sampling is ${showValue(v)}; it must be an object like {"steps": 12, "guidance": 4}`;
  const names: readonly string[] = SAMPLING_SETTINGS;
  for (const [name, value] of Object.entries(v)) {
    if (!names.includes(name)) return `sampling names ${showValue(name)}; it may set ${SAMPLING_SETTINGS.join(', ')}`;
    const problem = settingProblem(name as SamplingSettingName, value);
    if (problem) return `sampling: ${problem}`;
    const setting: NumericSetting = GENERATION_SETTINGS[name as SamplingSettingName];
    if (setting.integer && !Number.isInteger(value)) return `sampling: ${name} is ${value}; it must be a whole number`;
  }
  return undefined;
}

/** Short text for a value in a message: strings are quoted and cut to 40 characters. */
export const showValue = (v: unknown): string =>
  typeof v === 'string'
    ? JSON.stringify(v.slice(0, 40))
    : typeof v === 'number'
      ? String(v)
      : v === null
        ? 'null'
        : typeof v;

/** Why `v` is not an acceptable value of setting `name` (range check before rounding), or undefined when it is. */
export function settingProblem(name: GenerationSettingName, v: unknown): string | undefined {
  const { min, max } = GENERATION_SETTINGS[name];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    return `${name} is ${showValue(v)}; it must be a number from ${min} to ${max}`;
  return undefined;
}

/** A finite number moved into the setting's range and rounded when the setting is an integer (the UI's fields). */
export function clampSetting(name: GenerationSettingName, v: number): number {
  const s: NumericSetting = GENERATION_SETTINGS[name];
  const c = Math.min(s.max, Math.max(s.min, v));
  return s.integer ? Math.round(c) : c;
}

/** Most tokens a grid may have (the sampler's kernels handle up to 32×32; the shipped models use 16×16). */
export const MAX_GRID_TOKENS = 1024;

const isList = (v: unknown): v is ArrayLike<unknown> =>
  Array.isArray(v) ||
  v instanceof Uint32Array ||
  v instanceof Uint8Array ||
  v instanceof Int32Array ||
  v instanceof Uint16Array;

/** Why an edit's starting grid `initTokens` and `keep`-mask (1 = keep the token, 0 = generate it anew) are not an
 *  acceptable pair, or undefined when they are (both absent: no edit). The grid's size and the codebook range
 *  depend on the model: the sampler checks those (src/model/sampler.ts startGrid). */
export function editProblem(initTokens: unknown, keep: unknown): string | undefined {
  if (initTokens === undefined && keep === undefined) return undefined;
  if (initTokens === undefined || keep === undefined)
    return `${initTokens === undefined ? 'keep' : 'initTokens'} came alone; an edit needs both initTokens (the picture's tokens) and keep (which of them to keep)`;
  if (!isList(initTokens)) return `initTokens is ${showValue(initTokens)}; it must be a list of token ids`;
  if (!isList(keep)) return `keep is ${showValue(keep)}; it must be a list of 0 (re-generate) and 1 (keep)`;
  if (initTokens.length === 0 || initTokens.length > MAX_GRID_TOKENS || keep.length !== initTokens.length)
    return `initTokens has ${initTokens.length} and keep ${keep.length} entries; both need one per token of the grid (at most ${MAX_GRID_TOKENS})`;
  let kept = 0;
  for (let p = 0; p < keep.length; p++) {
    const k = keep[p];
    const t = initTokens[p];
    if (k !== 0 && k !== 1) return `keep[${p}] is ${showValue(k)}; each entry must be 0 (re-generate) or 1 (keep)`;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > 0xffffffff)
      return `initTokens[${p}] is ${showValue(t)}; each entry must be a token id (a whole number from 0)`;
    kept += k;
  }
  if (kept === keep.length) return 'the mask is empty (keep keeps every token): mask at least one token to re-generate';
  if (kept === 0)
    return 'the mask covers every token (keep keeps none): leave out initTokens and keep to draw a new picture';
  return undefined;
}

/** How image-to-image picks the tokens a strength re-masks (src/model/strength_mask.ts). */
export const REMASK_CHOICES = ['random', 'confidence'] as const;
export type Remask = (typeof REMASK_CHOICES)[number];

/** Why an image-to-image request (`initTokens` with a `strength` from 0 to 1 and an optional `remask`, instead of
 *  `keep`) is not acceptable, or undefined when it is (or when it has neither strength nor remask). */
export function strengthProblem(
  initTokens: unknown,
  keep: unknown,
  strength: unknown,
  remask: unknown,
): string | undefined {
  if (strength === undefined && remask === undefined) return undefined;
  if (strength === undefined) return 'remask came alone; it goes with a strength (image-to-image)';
  if (keep !== undefined)
    return 'strength and keep came together; give one: keep (inpainting) or strength (image-to-image)';
  if (typeof strength !== 'number' || !Number.isFinite(strength) || strength < 0 || strength > 1)
    return `strength is ${showValue(strength)}; it must be a number from 0 to 1`;
  if (remask !== undefined && !REMASK_CHOICES.includes(remask as Remask))
    return `remask is ${showValue(remask)}; it must be ${REMASK_CHOICES.map((c) => `"${c}"`).join(' or ')}`;
  if (!isList(initTokens))
    return `initTokens is ${showValue(initTokens)}; image-to-image needs the picture's token ids`;
  if (initTokens.length === 0 || initTokens.length > MAX_GRID_TOKENS)
    return `initTokens has ${initTokens.length} entries; it needs one per token of the grid (at most ${MAX_GRID_TOKENS})`;
  for (let p = 0; p < initTokens.length; p++) {
    const t = initTokens[p];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > 0xffffffff)
      return `initTokens[${p}] is ${showValue(t)}; each entry must be a token id (a whole number from 0)`;
  }
  if (Math.round(strength * initTokens.length) === 0)
    return `strength ${strength} re-draws no token of ${initTokens.length}: raise it to re-draw part of the picture`;
  return undefined;
}
