// Tokenizer v2 (word-boundary pieces + known-word ids), v1, and v1 with word-boundary pieces (the fine-tuning
// captions' split) in src/model/bpe.ts against training/mmamba/bpe.py:
// tests/fixtures/bpe_v2_cases.json (tests/fixtures/make_bpe_v2_cases.py) holds a tiny v2 and a tiny v1 tokenizer and
// the Python ids of the same 79 strings each (punctuation, case, emoji and ZWJ runs, digits, lone surrogates,
// whitespace-only, and 100,000-character / 60,000-emoji inputs given as unit × count); TS must agree exactly. Also:
// the hostile-manifest checks (typed WeightIntegrityError) and bounded work on huge inputs.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WeightIntegrityError } from '../src/engine/errors';
import { BPETokenizer, MAX_WORDS, wordBoundarySpec, type TokenizerSpec } from '../src/model/bpe';

interface Case {
  text?: string;
  repeat?: [string, number];
  ids: number[];
  tokens?: number[];
  tokens_head?: number[];
  n_tokens?: number;
}
const fx = JSON.parse(readFileSync(resolve(__dirname, 'fixtures/bpe_v2_cases.json'), 'utf8')) as Record<
  'v1' | 'v2' | 'v1_words',
  { tokenizer: TokenizerSpec; cases: Case[] }
>;
const textOf = (c: Case) => c.text ?? c.repeat![0].repeat(c.repeat![1]);
const label = (c: Case) =>
  c.repeat
    ? `${JSON.stringify(c.repeat[0])} × ${c.repeat[1]}`
    : JSON.stringify(c.text!.length > 30 ? `${c.text!.slice(0, 30)}…` : c.text);

for (const v of ['v2', 'v1', 'v1_words'] as const)
  describe(`tokenizer ${v} vs training/mmamba/bpe.py`, () => {
    const tok = new BPETokenizer(fx[v].tokenizer);
    it('has at least 60 cases and the Python vocabulary size', () => {
      expect(fx[v].cases.length).toBeGreaterThanOrEqual(60);
      expect(tok.vocabSize).toBe(fx[v].tokenizer.vocab_size);
      expect(tok.version).toBe(v === 'v2' ? 2 : 1);
      expect(tok.split).toBe(v === 'v1' ? 'space' : 'word-boundary');
    });
    for (const c of fx[v].cases)
      it(`encodes ${label(c)}`, () => {
        const text = textOf(c);
        expect(Array.from(tok.encode(text))).toEqual(c.ids);
        const toks = tok.tokenize(text);
        if (c.tokens) expect(toks).toEqual(c.tokens);
        else {
          expect(toks.slice(0, 32)).toEqual(c.tokens_head);
          expect(toks.length).toBe(c.n_tokens);
        }
      });
  });

describe("v1 with word-boundary pieces (fine-tuning captions and their adapter's prompts)", () => {
  const v1 = new BPETokenizer(fx.v1.tokenizer);
  const words = new BPETokenizer(wordBoundarySpec(fx.v1.tokenizer));

  it('the word gets the same ids whatever punctuation or case surrounds it', () => {
    const word = words.tokenize('zorblat');
    for (const s of ['zorblat,', 'Zorblat!', 'ZORBLAT?', '(zorblat)', 'a zorblat, outline icon'])
      expect(words.tokenize(s).join(' ')).toContain(word.join(' '));
    expect(words.tokenize('Zorblat,')).toEqual([...word, ...words.tokenize(',')]);
    expect(v1.tokenize('zorblat,')).not.toEqual(words.tokenize('zorblat,')); // v1 encodes the piece "zorblat,"
  });

  it('on the shipped M-Mamba S tokenizer, "zorblat," no longer ends in other tokens than "zorblat"', () => {
    const spec = (
      JSON.parse(readFileSync(resolve(__dirname, '../public/models/mmamba-s/manifest.json'), 'utf8')) as {
        tokenizer: TokenizerSpec;
      }
    ).tokenizer;
    const shipped = new BPETokenizer(spec);
    const split = new BPETokenizer(wordBoundarySpec(spec));
    const word = split.tokenize('zorblat');
    expect(word).toEqual(shipped.tokenize('zorblat'));
    expect(shipped.tokenize('zorblat,').slice(0, word.length)).not.toEqual(word); // the issue: a different word
    for (const s of ['zorblat,', 'Zorblat.', 'a zorblat, outline icon', 'ZORBLAT!'])
      expect(split.tokenize(s).join(' ')).toContain(word.join(' '));
  });

  it('the same ids as v1 wherever the text has no punctuation to cut (shipped models read their prompts as before)', () => {
    for (const s of ['a red apple', 'A Red APPLE', 'zorblat on a blue background', '🔥 fire'])
      expect(Array.from(words.encode(s))).toEqual(Array.from(v1.encode(s)));
    expect(wordBoundarySpec(fx.v1.tokenizer)).not.toBe(fx.v1.tokenizer);
    expect(fx.v1.tokenizer.split).toBe('space');
  });

  it('a v2 spec cannot split on spaces, and an unknown split is refused', () => {
    expect(() => new BPETokenizer({ ...fx.v2.tokenizer, split: 'space' })).toThrow(WeightIntegrityError);
    expect(() => new BPETokenizer({ ...fx.v1.tokenizer, split: 'chars' as 'space' })).toThrow(WeightIntegrityError);
  });
});

describe('tokenizer v2 semantics', () => {
  const spec = fx.v2.tokenizer;
  const tok = new BPETokenizer(spec);
  const wid = (w: string) => tok.wordOffset + spec.words!.indexOf(w);

  it('a known word keeps its id next to punctuation and in any ASCII case', () => {
    for (const s of ['zorblat', 'zorblat,', 'Zorblat!', 'ZORBLAT?', '(zorblat)'])
      expect(tok.tokenize(s)).toContain(wid('zorblat'));
    expect(tok.tokenize('thumbs-up')[0]).toBe(wid('thumbs'));
    expect(tok.tokenize('thumbs-up').at(-1)).toBe(wid('up'));
    expect(tok.pieces('🔥🔥x-2, é')).toEqual(['🔥🔥', 'x', '-', '2', ',', 'é']);
  });

  it('a v1 spec without "version" reads as v1', () => {
    const { version: _drop, ...noVersion } = fx.v1.tokenizer;
    const t = new BPETokenizer(noVersion as TokenizerSpec);
    expect(t.version).toBe(1);
    expect(Array.from(t.encode('zorblat, x'))).toEqual(
      Array.from(new BPETokenizer(fx.v1.tokenizer).encode('zorblat, x')),
    );
  });

  it('huge inputs take bounded time and no deep stacks', () => {
    const t0 = performance.now();
    for (const s of ['x'.repeat(1_000_000), '🔥'.repeat(500_000), 'a b '.repeat(250_000), '-'.repeat(1_000_000)]) {
      const ids = tok.encode(s);
      expect(ids.length).toBe(tok.maxLen);
      expect(tok.tokenize(s).length).toBeGreaterThan(0);
    }
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});

describe('tokenizer manifest checks', () => {
  const base = fx.v2.tokenizer;
  const bad: Array<[string, unknown]> = [
    ['unknown type', { ...base, type: 'wordpiece' }],
    ['version 3', { ...base, version: 3 }],
    [
      'too many words',
      { ...base, words: Array.from({ length: MAX_WORDS + 1 }, (_, i) => `w${i}`), vocab_size: undefined },
    ],
    ['upper-case word', { ...base, words: ['Red'], vocab_size: undefined }],
    ['empty word', { ...base, words: [''], vocab_size: undefined }],
    ['65-character word', { ...base, words: ['a'.repeat(65)], vocab_size: undefined }],
    ['non-ASCII word', { ...base, words: ['é'], vocab_size: undefined }],
    ['duplicate word', { ...base, words: ['a', 'a'], vocab_size: undefined }],
    ['non-string word', { ...base, words: [7], vocab_size: undefined }],
    ['words not a list', { ...base, words: 'a b', vocab_size: undefined }],
    ['merge of a later id', { ...base, merges: [[3, 259]], words: [], vocab_size: undefined }],
    ['merge not a pair', { ...base, merges: [[3]], words: [], vocab_size: undefined }],
    ['merges not a list', { ...base, merges: {}, words: [] }],
    ['too many merges', { ...base, merges: Array.from({ length: 70_000 }, () => [3, 3]), words: [] }],
    ['wrong vocab_size', { ...base, vocab_size: base.vocab_size + 1 }],
    ['wrong word_offset', { ...base, word_offset: base.word_offset! - 1 }],
    ['v1 with words', { ...fx.v1.tokenizer, words: ['a'] }],
    ['no specials', { ...base, specials: undefined }],
  ];
  for (const [what, spec] of bad)
    it(`refuses ${what}`, () => {
      expect(() => new BPETokenizer(spec as TokenizerSpec)).toThrow(WeightIntegrityError);
    });
  it('accepts the largest allowed word list', () => {
    const words = Array.from({ length: MAX_WORDS }, (_, i) => `w${i}`);
    const t = new BPETokenizer({ ...base, words, vocab_size: undefined as unknown as number });
    expect(t.vocabSize).toBe(t.wordOffset + MAX_WORDS);
    expect(t.tokenize('W199999 w0')).toEqual([t.wordOffset + MAX_WORDS - 1, t.wordOffset]);
  });
});
