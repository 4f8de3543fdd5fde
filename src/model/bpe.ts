// Byte-level BPE encoder for captions, exactly as training/mmamba/bpe.py (its docstring is the spec), versions 1 and 2:
//  0. only the first MAX_TEXT_CHARS (4096) code points of a text are read (bounded work for any prompt)
//  1. normalise: ASCII A–Z → a–z only; tab, newline, carriage return → space
//  2. pieces — v1: split on ' ', drop empty pieces; v2: a maximal run of ASCII [a-z0-9], a maximal run of non-ASCII
//     code points (≥ U+0080), or one other non-space ASCII character; spaces separate and are dropped. A v1 spec
//     with `split: 'word-boundary'` keeps the v1 ids but cuts pieces as v2 does ("Zorblat," → "zorblat", ","):
//     fine-tuning's captions and its adapter's prompts (wordBoundarySpec)
//  3. ids: 0 pad, 1 bos, 2 eos, byte_offset + b for byte b, merge i creates id byte_offset + 256 + i; v2: a piece
//     in `words` is the single id word_offset + its index (word_offset = byte_offset + 256 + merges), any other
//     piece is the BPE of the UTF-8 bytes of ' ' + piece (a lone surrogate encodes as U+FFFD, as in Python)
//  4. BPE of a piece: repeatedly merge every non-overlapping occurrence (left to right) of the adjacent pair with
//     the lowest merge rank, until no adjacent pair has a merge
//  5. [bos] + ids truncated to max_len − 2 + [eos], padded with pad to max_len
// The dictionary is the generator manifest's `tokenizer` (BPETokenizer.to_dict()); it comes from outside, so the
// constructor checks it (bounded merges and words, ids in range) and refuses a bad one with WeightIntegrityError.
import { WeightIntegrityError } from '../engine/errors';

export interface TokenizerSpec {
  type: 'byte-bpe';
  /** Absent = 1. */
  version?: 1 | 2;
  /** Step 2: 'space' (v1's default) or 'word-boundary' (v2's; also allowed on v1). */
  split?: TokenizerSplit;
  specials: { pad: number; bos: number; eos: number };
  byte_offset: number;
  vocab_size: number;
  max_len: number;
  merges: Array<[number, number]>;
  /** v2: known words ([a-z0-9]{1,64}, unique, at most MAX_WORDS), id word_offset + index. */
  words?: string[];
  word_offset?: number;
}

export type TokenizerSplit = 'space' | 'word-boundary';

/** The same tokenizer with word-boundary pieces: a v1 spec then gives "zorblat" one encoding whatever punctuation
 *  or case surrounds it (v2 already splits so). */
export function wordBoundarySpec(spec: TokenizerSpec): TokenizerSpec {
  return { ...spec, split: 'word-boundary' };
}

/** Code points of a text that are tokenised (bpe.py MAX_TEXT_CHARS); the rest is ignored. */
export const MAX_TEXT_CHARS = 4096;
/** Most known words a v2 tokenizer may list (bpe.py MAX_WORDS). */
export const MAX_WORDS = 200_000;
/** Most merges: every id must stay below 65536 (the pair key is left·65536 + right). */
export const MAX_MERGES = 65536 - 259;
const WORD_RE = /^[a-z0-9]{1,64}$/;
/** Pieces whose BPE is remembered; the cache is emptied when it grows past this. */
const CACHE_LIMIT = 4096;

const isAlnum = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);

export class BPETokenizer {
  readonly pad: number;
  readonly bos: number;
  readonly eos: number;
  readonly maxLen: number;
  readonly version: 1 | 2;
  readonly split: TokenizerSplit;
  private readonly byteOffset: number;
  private readonly firstMerge: number;
  /** (left · 65536 + right) → rank. */
  private readonly ranks = new Map<number, number>();
  /** rank → (left · 65536 + right). */
  private readonly rankKeys: number[] = [];
  /** v2 known word → its id. */
  private readonly wordIds = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();
  private readonly utf8 = new TextEncoder();

  constructor(spec: TokenizerSpec, maxLen?: number) {
    const bad: (why: string) => never = (why) => {
      throw new WeightIntegrityError(`tokenizer: ${why}; the model files are damaged or need a newer app`);
    };
    if (spec === null || typeof spec !== 'object') bad('missing');
    const version = spec.version ?? 1;
    if (spec.type !== 'byte-bpe' || (version !== 1 && version !== 2))
      bad(`unsupported tokenizer ${String(spec.type)} v${String(version)}`);
    this.version = version;
    const split = spec.split ?? (version === 1 ? 'space' : 'word-boundary');
    if ((split !== 'space' && split !== 'word-boundary') || (version === 2 && split !== 'word-boundary'))
      bad(`tokenizer v${version} cannot split by ${JSON.stringify(spec.split)}`);
    this.split = split;
    const sp = spec.specials as Record<string, unknown> | undefined;
    const isId = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
    if (!sp || !isId(sp.pad) || !isId(sp.bos) || !isId(sp.eos)) bad('specials must be integer ids');
    if (spec.byte_offset !== 3) bad(`byte_offset ${String(spec.byte_offset)} (bpe.py uses 3)`);
    this.pad = spec.specials.pad;
    this.bos = spec.specials.bos;
    this.eos = spec.specials.eos;
    const L = maxLen ?? spec.max_len;
    if (!Number.isInteger(L) || L < 2 || L > 4096) bad(`max_len ${String(L)}`);
    this.maxLen = L;
    this.byteOffset = spec.byte_offset;
    this.firstMerge = spec.byte_offset + 256;
    const merges = spec.merges as unknown;
    if (!Array.isArray(merges) || merges.length > MAX_MERGES)
      bad(`merges must be a list of at most ${MAX_MERGES} pairs`);
    (merges as unknown[]).forEach((m, i) => {
      const limit = this.firstMerge + i; // a merge joins bytes or earlier merges
      if (
        !Array.isArray(m) ||
        m.length !== 2 ||
        !m.every((v) => Number.isInteger(v) && v >= this.byteOffset && v < limit)
      )
        bad(`merge ${i} is not a pair of earlier ids`);
      const key = (m[0] as number) * 65536 + (m[1] as number);
      if (this.ranks.has(key)) bad(`merge ${i} repeats an earlier one`);
      this.ranks.set(key, i);
      this.rankKeys.push(key);
    });
    if (version === 2) {
      const words = spec.words as unknown;
      if (!Array.isArray(words) || words.length > MAX_WORDS)
        bad(`words must be a list of at most ${MAX_WORDS} strings`);
      const off = this.wordOffset;
      (words as unknown[]).forEach((w, i) => {
        if (typeof w !== 'string' || !WORD_RE.test(w)) bad(`word ${i} is not 1–64 characters of [a-z0-9]`);
        if (this.wordIds.has(w as string)) bad(`word ${JSON.stringify(w)} is listed twice`);
        this.wordIds.set(w as string, off + i);
      });
      if (spec.word_offset !== undefined && spec.word_offset !== off)
        bad(`word_offset ${String(spec.word_offset)}, the merges make ${off}`);
    } else if (spec.words !== undefined) bad('a v1 tokenizer has no words');
    if (spec.vocab_size !== undefined && spec.vocab_size !== this.vocabSize)
      bad(`vocab_size ${String(spec.vocab_size)}, the merges and words make ${this.vocabSize}`);
  }

  /** First known-word id (v2); equals vocabSize for v1. */
  get wordOffset(): number {
    return this.firstMerge + this.rankKeys.length;
  }

  get vocabSize(): number {
    return this.wordOffset + this.wordIds.size;
  }

  /** Step 1: only ASCII letters change case, so the JS and Python results agree for any Unicode input. */
  static normalise(text: string): string {
    return text.replace(/[\t\n\r]/g, ' ').replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
  }

  /** Step 0: the first MAX_TEXT_CHARS code points. */
  static capped(text: string): string {
    if (text.length <= MAX_TEXT_CHARS) return text;
    let n = 0;
    let end = 0;
    for (const ch of text) {
      if (n++ === MAX_TEXT_CHARS) break;
      end += ch.length;
    }
    return text.slice(0, end);
  }

  /** Step 2 by the tokenizer's split. */
  pieces(text: string): string[] {
    const t = BPETokenizer.normalise(BPETokenizer.capped(text));
    if (this.split === 'space') return t.split(' ').filter((w) => w !== '');
    const out: string[] = [];
    let cur = '';
    let kind = 0; // of cur: 0 none, 1 [a-z0-9] run, 2 non-ASCII run
    for (const ch of t) {
      const c = ch.codePointAt(0)!;
      const k = isAlnum(c) ? 1 : c >= 0x80 ? 2 : 0;
      if (k !== 0 && k === kind) {
        cur += ch;
        continue;
      }
      if (cur) out.push(cur);
      cur = '';
      kind = k;
      if (k !== 0) cur = ch;
      else if (ch !== ' ') out.push(ch);
    }
    if (cur) out.push(cur);
    return out;
  }

  /** Steps 3–4 for one piece (a known word, or the BPE of ' ' + piece). */
  private encodePiece(piece: string): readonly number[] {
    const wid = this.wordIds.get(piece);
    if (wid !== undefined) return [wid];
    const hit = this.cache.get(piece);
    if (hit) return hit;
    const bytes = this.utf8.encode(` ${piece}`);
    let w: number[] = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length; i++) w[i] = this.byteOffset + bytes[i]!;
    while (w.length > 1) {
      let best = -1;
      for (let i = 0; i + 1 < w.length; i++) {
        const r = this.ranks.get(w[i]! * 65536 + w[i + 1]!);
        if (r !== undefined && (best < 0 || r < best)) best = r;
      }
      if (best < 0) break;
      const key = this.rankKeys[best]!;
      const a = Math.floor(key / 65536);
      const b = key % 65536;
      const merged: number[] = [];
      for (let i = 0; i < w.length; ) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          merged.push(this.firstMerge + best);
          i += 2;
        } else merged.push(w[i++]!);
      }
      w = merged;
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, w);
    return w;
  }

  /** The first `limit` ids of the text (no spread: a piece may have thousands of ids). */
  private ids(text: string, limit: number): number[] {
    const out: number[] = [];
    for (const piece of this.pieces(text)) {
      for (const id of this.encodePiece(piece)) {
        if (out.length >= limit) return out;
        out.push(id);
      }
      if (out.length >= limit) return out;
    }
    return out;
  }

  /** Ids of the text without bos/eos/padding. */
  tokenize(text: string): number[] {
    return this.ids(text, Infinity);
  }

  /** (maxLen) ids: bos, the first maxLen − 2 tokens, eos, padding. */
  encode(text: string, maxLen = this.maxLen): Int32Array {
    const body = this.ids(text, Math.max(0, maxLen - 2));
    const out = new Int32Array(maxLen).fill(this.pad);
    const ids = [this.bos];
    for (const id of body) ids.push(id);
    ids.push(this.eos);
    out.set(ids.slice(0, maxLen));
    return out;
  }
}
