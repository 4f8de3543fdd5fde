// Textual inversion's new word (issue 20): a word the base tokenizer does not know gets its own id and its own row of
// the text embedding table, learned alone (inversion.ts) and carried by the adapter file (adapter_format.ts v2).
//
// The id is the first one the base tokenizer never produces (its vocabSize: after the merges, and after a v2
// tokenizer's known words). The tokenizer with the word is the base's as a v2 spec with the word appended to its
// known words, so every other text keeps its ids exactly (v2 splits on word boundaries, as a v1 spec with
// split 'word-boundary' does; fine-tuning already reads captions so) and the word, whatever its case or the
// punctuation around it, is that one id. The table gets the row at that id: appended when the id is past the
// model's table, else written into a row no prompt reads (no text encodes to ids ≥ vocabSize). So no prompt without
// the word can change, by construction. DOM-free.
import { BPETokenizer, type TokenizerSpec } from '../model/bpe';
import type { MMambaConfig } from '../model/common';
import type { HostTensor, WeightMap } from '../model/weights';

/** What a new word may be: 1–64 of [a-z0-9] (a v2 tokenizer's known word; the tokenizer lowercases ASCII first). */
export const NEW_WORD_RE = /^[a-z0-9]{1,64}$/;

export const TEXT_TABLE = 'text.tok_emb.weight';

/** The word normalised as the tokenizer reads it; throws when it cannot be one new word. */
export function checkNewWord(word: string): string {
  const w = BPETokenizer.normalise(String(word)).trim();
  if (!NEW_WORD_RE.test(w))
    throw new Error(`the new word must be 1–64 letters a–z or digits, got ${JSON.stringify(word)}`);
  return w;
}

/** The id the new word gets with this base tokenizer. */
export function newWordId(spec: TokenizerSpec): number {
  return new BPETokenizer(spec).vocabSize;
}

/** The base tokenizer with `word` as one more known word (id newWordId(spec)); throws when it already is one. */
export function tokenizerWithWord(spec: TokenizerSpec, word: string): TokenizerSpec {
  const w = checkNewWord(word);
  const known = spec.version === 2 ? (spec.words ?? []) : [];
  if (known.includes(w)) throw new Error(`"${w}" is already a word of this model's tokenizer`);
  const id = newWordId(spec);
  const { word_offset: _, ...rest } = spec;
  return { ...rest, version: 2, split: 'word-boundary', words: [...known, w], vocab_size: id + 1 };
}

/** The config whose text table has a row for `id`. */
export function configWithWord(config: MMambaConfig, id: number): MMambaConfig {
  return { ...config, text: { ...config.text, vocab_size: Math.max(config.text.vocab_size, id + 1) } };
}

/** The base weights with the text table's row `id` set to `vector` (the table copied, appended to when needed); the
 *  other entries are shared, not copied. */
export function weightsWithWord(base: WeightMap, id: number, vector: Float32Array): WeightMap {
  const t = base.get(TEXT_TABLE);
  if (t?.shape.length !== 2) throw new Error(`the base weights have no ${TEXT_TABLE} table`);
  const [rows, w] = t.shape as [number, number];
  if (vector.length !== w)
    throw new Error(`a word embedding of ${vector.length} values does not fit a text width of ${w}`);
  const n = Math.max(rows, id + 1);
  const data = new Float32Array(n * w);
  data.set(t.data);
  data.set(vector, id * w);
  const table: HostTensor = { ...t, shape: [n, w], data };
  return new Map(base).set(TEXT_TABLE, table);
}

/** The row a new word starts from: the mean of the rows the base tokenizer uses (a neutral word). */
export function initialWordVector(base: WeightMap, spec: TokenizerSpec): Float32Array {
  const t = base.get(TEXT_TABLE)!;
  const w = t.shape[1]!;
  const used = Math.min(t.shape[0]!, newWordId(spec));
  const v = new Float64Array(w);
  for (let r = 0; r < used; r++) for (let j = 0; j < w; j++) v[j]! += t.data[r * w + j]!;
  return Float32Array.from(v, (x) => x / used);
}

/** A model (manifest + weights) that reads `word` as its learned row: tokenizer, config and table together. */
export function modelWithWord<M extends { config: unknown; tokenizer?: unknown }>(
  model: { manifest: M; weights: WeightMap },
  word: { word: string; embedding: Float32Array },
): { manifest: M; weights: WeightMap } {
  const spec = model.manifest.tokenizer as TokenizerSpec;
  const id = newWordId(spec);
  return {
    manifest: {
      ...model.manifest,
      tokenizer: tokenizerWithWord(spec, word.word),
      config: configWithWord(model.manifest.config as MMambaConfig, id),
    },
    weights: weightsWithWord(model.weights, id, word.embedding),
  };
}
