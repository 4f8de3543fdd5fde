// The TypeScript BPE encoder (src/model/bpe.ts) against ids produced by the Python tokenizer
// (tests/fixtures/bpe_cases.json, written by tests/fixtures/make_bpe_cases.py from training/mmamba/bpe.py):
// empty, long (truncated), emoji-only, ZWJ sequences, mixed case, punctuation, whitespace, non-ASCII letters.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BPETokenizer, type TokenizerSpec } from '../src/model/bpe';

const root = resolve(__dirname, '..');
const cases = JSON.parse(readFileSync(resolve(root, 'tests/fixtures/bpe_cases.json'), 'utf8')) as {
  model: string;
  max_len: number;
  cases: Array<{ text: string; ids: number[]; tokens: number[] }>;
};
const spec = (
  JSON.parse(readFileSync(resolve(root, `public/models/${cases.model}/manifest.json`), 'utf8')) as {
    tokenizer: TokenizerSpec;
  }
).tokenizer;

describe('byte-level BPE vs training/mmamba/bpe.py', () => {
  const tok = new BPETokenizer(spec);
  for (const c of cases.cases)
    it(`encodes ${JSON.stringify(c.text.length > 40 ? `${c.text.slice(0, 40)}…` : c.text)}`, () => {
      expect(tok.tokenize(c.text)).toEqual(c.tokens);
      expect(Array.from(tok.encode(c.text))).toEqual(c.ids);
    });

  it('pads/truncates to max_len with bos/eos, empty prompt = [bos, eos, pad…]', () => {
    expect(tok.maxLen).toBe(cases.max_len);
    const e = Array.from(tok.encode(''));
    expect(e.slice(0, 2)).toEqual([tok.bos, tok.eos]);
    expect(e.slice(2).every((v) => v === tok.pad)).toBe(true);
    const long = tok.encode('word '.repeat(100));
    expect(long.length).toBe(cases.max_len);
    expect(long[cases.max_len - 1]).toBe(tok.eos);
    expect(Array.from(tok.encode('a b c', 4))).toEqual([tok.bos, ...tok.tokenize('a b c').slice(0, 2), tok.eos]);
  });
});
