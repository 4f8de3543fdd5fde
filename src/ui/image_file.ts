// What a downloaded image is called and what it says about itself: the file name carries the prompt (slugged),
// seed, steps and model id, and the PNG's text chunks carry the full settings, so a saved file can be traced
// back to (and regenerated from) the settings that made it. The canvas on the page is named the same way.
import type { GenerateRequest } from '../worker/api';
import { plural } from './plural';

/** The settings of one generation as the page ran it. */
export interface ImageFacts {
  prompt: string;
  negativePrompt?: string;
  seed: number;
  steps: number;
  guidance: number;
  modelId: string;
  adapter?: string;
}

export function imageFacts(req: GenerateRequest, modelId: string): ImageFacts {
  return {
    prompt: req.prompt,
    negativePrompt: req.negativePrompt,
    seed: req.seed,
    steps: req.steps ?? 0,
    guidance: req.guidance ?? 0,
    modelId,
    adapter: req.adapter,
  };
}

/** "A Red Apple, flat!" -> "a-red-apple-flat": ASCII letters and digits joined by '-', at most `max` characters
 *  (cut at a word boundary when there is one); '' when nothing is left. */
export function slug(text: string, max = 40): string {
  const s = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (s.length <= max) return s;
  const cut = s.slice(0, max + 1);
  const dash = cut.lastIndexOf('-');
  return (dash > 0 ? cut.slice(0, dash) : s.slice(0, max)).replace(/-+$/, '');
}

/** e.g. `red-apple_seed42_12steps_mmamba-s.png`; `step` (1-based) names an intermediate step: `…_step3.png`. */
export function imageFileName(f: ImageFacts, step = f.steps): string {
  const parts = [
    slug(f.prompt) || 'unconditional',
    `seed${f.seed}`,
    plural(f.steps, 'step').replace(' ', ''),
    slug(f.modelId) || 'model',
  ];
  if (f.adapter) parts.push(slug(f.adapter) || 'adapter');
  if (step !== f.steps) parts.push(`step${step}`);
  return `${parts.join('_')}.png`;
}

/** The PNG text chunks of an image: standard keywords (Title, Description, Software) plus one per setting. */
export function imageTextEntries(f: ImageFacts, step = f.steps): Record<string, string> {
  const e: Record<string, string> = {
    Title: f.prompt,
    Software: 'M-Mamba Web',
    Description: `${f.prompt === '' ? 'unconditional' : JSON.stringify(f.prompt)}, seed ${f.seed}, ${plural(f.steps, 'step')}, guidance ${f.guidance}, model ${f.modelId}`,
    prompt: f.prompt,
    seed: String(f.seed),
    steps: String(f.steps),
    guidance: String(f.guidance),
    model: f.modelId,
  };
  if (f.negativePrompt) e['negative prompt'] = f.negativePrompt;
  if (f.adapter) e.adapter = f.adapter;
  if (step !== f.steps) e.step = String(step);
  return e;
}

/** The main canvas's accessible name: what was asked for and which step is shown. */
export function canvasLabel(prompt: string | undefined, step: number, steps: number): string {
  const what =
    prompt === undefined
      ? 'Generated image'
      : prompt === ''
        ? 'Unconditional generated image'
        : `Generated image of “${prompt}”`;
  return `${what}, step ${step} of ${steps}`;
}
