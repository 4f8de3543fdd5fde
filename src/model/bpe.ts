// Byte-level BPE encoder for captions, exactly as training/mmamba/bpe.py (its docstring is the spec):
//  1. normalise: ASCII A–Z → a–z only; tab, newline, carriage return → space
//  2. split on ' ', drop empty pieces; each word is the UTF-8 bytes of ' ' + word
//  3. ids: 0 pad, 1 bos, 2 eos, byte_offset + b for byte b, merge i creates id byte_offset + 256 + i
//  4. per word: repeatedly merge every non-overlapping occurrence (left to right) of the adjacent pair with the
//     lowest merge rank, until no adjacent pair has a merge
//  5. [bos] + ids truncated to max_len − 2 + [eos], padded with pad to max_len
// The dictionary is the generator manifest's `tokenizer` (BPETokenizer.to_dict()).

export interface TokenizerSpec {
  type: 'byte-bpe';
  version: 1;
  specials: { pad: number; bos: number; eos: number };
  byte_offset: number;
  vocab_size: number;
  max_len: number;
  merges: Array<[number, number]>;
}

export class BPETokenizer {
  readonly pad: number;
  readonly bos: number;
  readonly eos: number;
  readonly maxLen: number;
  private readonly byteOffset: number;
  private readonly firstMerge: number;
  /** (left << 16 | right) → rank. */
  private readonly ranks = new Map<number, number>();
  private readonly cache = new Map<string, number[]>();
  private readonly utf8 = new TextEncoder();

  constructor(spec: TokenizerSpec, maxLen?: number) {
    if (spec?.type !== 'byte-bpe' || spec.version !== 1)
      throw new Error(`unsupported tokenizer ${String(spec?.type)} v${String(spec?.version)}; the model files need a newer app`);
    this.pad = spec.specials.pad;
    this.bos = spec.specials.bos;
    this.eos = spec.specials.eos;
    this.maxLen = maxLen ?? spec.max_len;
    this.byteOffset = spec.byte_offset;
    this.firstMerge = spec.byte_offset + 256;
    spec.merges.forEach(([a, b], i) => this.ranks.set(a * 65536 + b, i));
  }

  get vocabSize(): number {
    return this.firstMerge + this.ranks.size;
  }

  /** Step 1: only ASCII letters change case, so the JS and Python results agree for any Unicode input. */
  static normalise(text: string): string {
    return text.replace(/[\t\n\r]/g, ' ').replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
  }

  private encodeWord(word: string): number[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    let w = Array.from(this.utf8.encode(' ' + word), (b) => this.byteOffset + b);
    while (w.length > 1) {
      let best = -1;
      for (let i = 0; i + 1 < w.length; i++) {
        const r = this.ranks.get(w[i]! * 65536 + w[i + 1]!);
        if (r !== undefined && (best < 0 || r < best)) best = r;
      }
      if (best < 0) break;
      const [a, b] = [Math.floor(this.keyOf(best) / 65536), this.keyOf(best) % 65536];
      const merged: number[] = [];
      for (let i = 0; i < w.length; ) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          merged.push(this.firstMerge + best);
          i += 2;
        } else merged.push(w[i++]!);
      }
      w = merged;
    }
    this.cache.set(word, w);
    return w;
  }

  private rankKeys: number[] | null = null;
  private keyOf(rank: number): number {
    if (!this.rankKeys) {
      this.rankKeys = [];
      for (const [k, r] of this.ranks) this.rankKeys[r] = k;
    }
    return this.rankKeys[rank]!;
  }

  /** Ids of the text without bos/eos/padding. */
  tokenize(text: string): number[] {
    const out: number[] = [];
    for (const word of BPETokenizer.normalise(text).split(' ')) if (word) out.push(...this.encodeWord(word));
    return out;
  }

  /** (maxLen) ids: bos, the first maxLen − 2 tokens, eos, padding. */
  encode(text: string, maxLen = this.maxLen): Int32Array {
    const ids = [this.bos, ...this.tokenize(text).slice(0, Math.max(0, maxLen - 2)), this.eos];
    const out = new Int32Array(maxLen).fill(this.pad);
    out.set(ids.slice(0, maxLen));
    return out;
  }
}
