// Which prompts a saved adapter changes, in words, for the adapter list and the strength panel beside the picker:
// "applies to prompts with 'zorblat'" (the word gate, src/finetune/word_gate.ts), or "(every prompt)" when the
// word gate's opt-out is on or the adapter names no word (an older or imported file). DOM-free.

/** The scope text of an adapter with `word` ('' when it names none); `everyPrompt`: the opt-out is on. */
export function adapterScope(word: string, everyPrompt = false): string {
  const w = word.trim();
  return everyPrompt || w === '' ? '(every prompt)' : `applies to prompts with '${w}'`;
}
