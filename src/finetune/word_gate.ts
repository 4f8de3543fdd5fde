// The word gate (issue 20): an adapter teaches one word, so at generation it applies only to requests whose prompt
// (or negative prompt) contains that word; any other request is drawn by the base model itself, bit for bit. This
// is the one home of the rule; the worker's generation (src/worker/finetune/service.ts adapterApplies) and
// bench/teach_recipes.ts use it; training/mmamba/bpe.py contains_word is its Python twin (shared cases:
// tests/fixtures/word_gate_cases.json).
//
// "Contains" is read with the tokenizer's word-boundary pre-tokenisation (src/model/bpe.ts step 2, the split that
// fine-tuning's captions and an adapter's prompts use): the prompt's pieces hold the word's pieces in a row. So case
// and punctuation do not matter ("Zorblat!", "a zorblat's hat" hold "zorblat"), while a longer run of letters or
// digits is another word ("zorblats", "zorblat2" do not): the tokenizer reads them so too, and textual inversion's
// learned id is not used there either. The pre-tokenisation needs no vocabulary, so the gate is the same for
// every model. DOM-free.
import { BPETokenizer, type TokenizerSpec } from '../model/bpe';
import { ADAPTER_EVERY_PROMPT } from './defaults';
import { NEW_WORD_RE } from './word';

/** A tokenizer with no merges and no words: only its step 2 (word-boundary pieces) is used. */
const PIECES: TokenizerSpec = {
  type: 'byte-bpe',
  version: 2,
  split: 'word-boundary',
  specials: { pad: 0, bos: 1, eos: 2 },
  byte_offset: 3,
  vocab_size: 259,
  max_len: 2,
  merges: [],
  words: [],
};
const splitter = new BPETokenizer(PIECES);

/** The word-boundary pieces of a text (lower-case ASCII; [a-z0-9] runs, non-ASCII runs, single punctuation). */
export function wordPieces(text: string): string[] {
  return splitter.pieces(text);
}

/** Whether `text` holds `word` as the tokenizer reads both: the word's pieces in a row among the text's. An empty
 *  word (no pieces) is in no text. */
export function containsWord(text: string, word: string): boolean {
  const w = wordPieces(word);
  if (w.length === 0) return false;
  const t = wordPieces(text);
  for (let i = 0; i + w.length <= t.length; i++) {
    let j = 0;
    while (j < w.length && t[i + j] === w[j]) j++;
    if (j === w.length) return true;
  }
  return false;
}

/** Whether an adapter that teaches `word` applies to a request with `prompts` (its prompt and negative prompt, as
 *  the engine reads them). `everyPrompt` (the opt-out, default ADAPTER_EVERY_PROMPT.default = off) applies it to
 *  every request; so does an adapter that names no word (an older or imported file: nothing to gate on). */
export function adapterApplies(
  word: string | undefined,
  prompts: readonly (string | undefined)[],
  everyPrompt: boolean = ADAPTER_EVERY_PROMPT.default,
): boolean {
  if (everyPrompt || !word || wordPieces(word).length === 0) return true;
  return prompts.some((p) => p !== undefined && containsWord(p, word));
}

// The adapter's word: what the gate applies the adapter to. The person types it in the fine-tuning form's "New word"
// field, prefilled with `guessWord(captions)`; `gateWordProblem` is the field's check and `gateWordFormatProblem` the
// worker request's (src/worker/finetune/session.ts checkRequest). A run whose request names no word (a library
// caller) uses `guessWord` of its captions. This is the one home of the guess. Invariant: a non-empty guess passes
// gateWordProblem for the same captions.

/** What the word may be: 1–32 characters, letters or digits, parts joined by single hyphens ("zorblat", "sky-cat"). */
export const GATE_WORD = Object.freeze({ maxChars: 32, example: 'zorblat' });
const FORMAT = /^[\p{L}\p{N}]+(?:-[\p{L}\p{N}]+)*$/u;
/** The candidate words of a caption (same shape as FORMAT, any length). */
const WORDS = /[\p{L}\p{N}]+(?:-[\p{L}\p{N}]+)*/gu;

/** What is wrong with the word's form (null: nothing), as the end of "The new word …". */
export function gateWordFormatProblem(word: string): string | null {
  // UTF-16 units bound the code points from above: a huge string is refused without being walked.
  if (word.length > 2 * GATE_WORD.maxChars) return `is longer than ${GATE_WORD.maxChars} characters`;
  const n = [...word].length;
  if (n === 0) return 'is empty: type the made-up word your captions use';
  if (n > GATE_WORD.maxChars) return `is ${n} characters long; use at most ${GATE_WORD.maxChars}`;
  if (!FORMAT.test(word)) return 'may hold only letters and digits (a hyphen may join two parts)';
  return null;
}

/** The field's message for `word` and the captions (empty ones are skipped: they have nothing to check), or null
 *  when the word can gate an adapter trained on them: well-formed and a whole word of every caption
 *  (word_gate.containsWord: case and punctuation aside). With `wordSteps` (textual inversion) it must also be a
 *  word of letters a–z or digits only (word.ts NEW_WORD_RE), as the worker's request check requires. */
export function gateWordProblem(word: string, captions: readonly string[], wordSteps = 0): string | null {
  const w = word.trim();
  const bad = gateWordFormatProblem(w);
  if (bad) return `The new word ${bad}.`;
  if (wordSteps > 0 && !NEW_WORD_RE.test(BPETokenizer.normalise(w)))
    return 'With word steps (Advanced settings), the new word must be letters a–z or digits only; change it or set the word steps to 0.';
  const used = captions.filter((c) => c.trim() !== '');
  const missing = used.filter((c) => !containsWord(c, w));
  if (!missing.length) return null;
  return (
    `Every caption must use "${w}" as a whole word: ${missing.length} of ${used.length} ` +
    `caption${used.length === 1 ? '' : 's'} do${missing.length === 1 ? 'es' : ''} not (e.g. "${short(missing[0]!)}").`
  );
}

/** The guess: the longest word every non-empty caption holds as a whole word (ties: alphabetical), '' when none. */
export function guessWord(captions: readonly string[]): string {
  const used = captions.filter((c) => c.trim() !== '');
  if (!used.length) return '';
  const candidates = new Set(BPETokenizer.normalise(used[0]!).match(WORDS) ?? []);
  const shared = [...candidates].filter(
    (w) => gateWordFormatProblem(w) === null && used.every((c) => containsWord(c, w)),
  );
  return shared.sort((a, b) => [...b].length - [...a].length || a.localeCompare(b))[0] ?? '';
}

/** The run's word: the one given, else the guess. */
export function runWord(given: string | undefined, captions: readonly string[]): string {
  return given?.trim() || guessWord(captions);
}

function short(text: string): string {
  const cps = [...text.trim()];
  return cps.length > 40 ? `${cps.slice(0, 40).join('').trimEnd()}…` : cps.join('');
}
