// Generation settings in the page URL, so that a link reproduces a picture: `?prompt=…&negative=…&seed=…&steps=…
// &guidance=…`. Reading validates each value against src/model/settings.ts and drops bad ones with a short reason
// (the page shows them as a quiet note, never an error); writing keeps every other query parameter as it was.
import {
  GENERATION_SETTINGS,
  settingProblem,
  type GenerationSettingName,
  type NumericSetting,
} from '../model/settings';
import type { GenerateRequest } from '../worker/api';

/** The settings a link can carry; absent ones keep the page's defaults. */
export interface SharedSettings {
  prompt?: string;
  negativePrompt?: string;
  seed?: number;
  steps?: number;
  guidance?: number;
}

const NUMERIC = ['seed', 'steps', 'guidance'] as const satisfies readonly GenerationSettingName[];
/** Longest prompt text a link may bring in (the prompt panel shows how much of it the model uses). */
const MAX_LINK_TEXT = 2000;

/** The settings in a query string, and one line per parameter that was ignored (with why). */
export function readSharedSettings(search: string): { settings: SharedSettings; ignored: string[] } {
  const q = new URLSearchParams(search);
  const settings: SharedSettings = {};
  const ignored: string[] = [];
  for (const [param, key] of [
    ['prompt', 'prompt'],
    ['negative', 'negativePrompt'],
  ] as const) {
    const v = q.get(param);
    if (v === null) continue;
    if (v.length > MAX_LINK_TEXT) ignored.push(`${param} (longer than ${MAX_LINK_TEXT} characters)`);
    else settings[key] = v;
  }
  for (const name of NUMERIC) {
    const raw = q.get(name);
    if (raw === null) continue;
    const v = raw.trim() === '' ? NaN : Number(raw);
    const integer = (GENERATION_SETTINGS[name] as NumericSetting).integer === true;
    const range = settingProblem(name, v);
    const problem = range
      ? range.replace(/^.*; it /, '')
      : integer && !Number.isInteger(v)
        ? 'must be a whole number'
        : undefined;
    if (problem) ignored.push(`${name}=${raw.slice(0, 20)} (${problem})`);
    else settings[name] = v;
  }
  return { settings, ignored };
}

/** `href` with the request's settings in its query string (other parameters and the hash kept). */
export function withSharedSettings(href: string, req: GenerateRequest): string {
  const url = new URL(href);
  const q = url.searchParams;
  q.set('prompt', req.prompt);
  if (req.negativePrompt) q.set('negative', req.negativePrompt);
  else q.delete('negative');
  q.set('seed', String(req.seed));
  if (req.steps !== undefined) q.set('steps', String(req.steps));
  if (req.guidance !== undefined) q.set('guidance', String(req.guidance));
  return url.href;
}
