// How a prompt is cut to the length the engine passes on, for generation prompts and fine-tuning preview prompts.
import { MAX_PROMPT_CHARS } from './api';

/** Cuts a prompt to MAX_PROMPT_CHARS code points, never splitting a surrogate pair. Walks at most that many code
 *  points, whatever the prompt's length: a 100,000-character prompt costs no more than a 200-character one. */
export function clampPrompt(p: string): { text: string; truncated: boolean } {
  let n = 0;
  let end = 0;
  for (const ch of p) {
    if (n === MAX_PROMPT_CHARS) return { text: p.slice(0, end), truncated: true };
    n++;
    end += ch.length;
  }
  return { text: p, truncated: false };
}
