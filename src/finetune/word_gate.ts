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
