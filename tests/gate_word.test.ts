// The adapter's word (src/finetune/word_gate.ts): the "New word" field's check (form, and a whole word of every
// caption as the word gate reads it), the guess it is prefilled with, the given word overriding the guess; the
// worker request check of `word` (src/worker/finetune/session.ts checkRequest); the adapter store keeping the word;
// the scope text the adapter list and strength panel show (src/ui/adapter_scope.ts). No GPU, no DOM.
import { describe, expect, it } from 'vitest';
import { GATE_WORD, gateWordFormatProblem, gateWordProblem, guessWord, runWord } from '../src/finetune/word_gate';
import { containsWord } from '../src/finetune/word_gate';
import { adapterScope } from '../src/ui/adapter_scope';
import { AdapterStore, type StoredAdapter } from '../src/worker/finetune/adapter_store';
import { checkRequest } from '../src/worker/finetune/session';
import type { KeyValue } from '../src/worker/weight_store';

const ZORBLAT = ['a zorblat on a table', 'Zorblat!', "the zorblat's hat, outline", 'two zorblat-like zorblat'];

describe('the new word: form', () => {
  it('takes 1–32 letters or digits, hyphens joining parts', () => {
    for (const ok of ['zorblat', 'Zorblat', 'sks2', 'x', 'sky-cat', 'a-b-c', 'zörblat', 'z'.repeat(32)])
      expect(gateWordFormatProblem(ok), ok).toBeNull();
    expect(GATE_WORD.maxChars).toBe(32);
  });

  it('refuses empty, too long, spaces, punctuation, leading/trailing or doubled hyphens, with a message', () => {
    expect(gateWordFormatProblem('')).toMatch(/is empty/);
    expect(gateWordFormatProblem('z'.repeat(33))).toMatch(/33 characters long; use at most 32/);
    expect(gateWordFormatProblem('z'.repeat(10_000_000))).toMatch(/longer than 32/);
    for (const bad of ['two words', 'zorblat!', '-zorb', 'zorb-', 'zo--rb', 'zor_blat', "zorblat's", '-'])
      expect(gateWordFormatProblem(bad), bad).toMatch(/only letters and digits/);
  });
});

describe('the new word: in every caption', () => {
  it('a whole word of every caption, case and punctuation aside, passes', () => {
    expect(gateWordProblem('zorblat', ZORBLAT)).toBeNull();
    expect(gateWordProblem('  ZORBLAT ', ZORBLAT)).toBeNull();
    // empty captions have nothing to check
    expect(gateWordProblem('zorblat', [...ZORBLAT, '', '  '])).toBeNull();
  });

  it('a part of a word, or a word some captions lack, is refused naming how many and one of them', () => {
    expect(gateWordProblem('zorb', ZORBLAT)).toBe(
      'Every caption must use "zorb" as a whole word: 4 of 4 captions do not (e.g. "a zorblat on a table").',
    );
    expect(gateWordProblem('outline', ZORBLAT)).toBe(
      'Every caption must use "outline" as a whole word: 3 of 4 captions do not (e.g. "a zorblat on a table").',
    );
    expect(gateWordProblem('zorblats', ['zorblat', 'zorblats'])).toMatch(/1 of 2 captions does not \(e.g. "zorblat"\)/);
    expect(gateWordProblem('a', [`${'long '.repeat(20)}`])).toMatch(
      /\(e.g. "long long long long long long long long…"\)/,
    );
    expect(gateWordProblem('zorblat!', ZORBLAT)).toBe(
      'The new word may hold only letters and digits (a hyphen may join two parts).',
    );
    expect(gateWordProblem('', ZORBLAT)).toMatch(/^The new word is empty: type the made-up word your captions use\.$/);
    // word steps (textual inversion) need letters a–z or digits only, as the worker's request check does
    expect(gateWordProblem('Zorblat', ZORBLAT, 5)).toBeNull();
    const sky = ['a sky-cat', 'sky-cat!'];
    expect(gateWordProblem('sky-cat', sky, 0)).toBeNull();
    expect(gateWordProblem('sky-cat', sky, 5)).toMatch(/^With word steps \(Advanced settings\), the new word must be/);
    expect(() =>
      checkRequest({
        rank: 4,
        steps: 10,
        lr: 1e-3,
        batchSize: 4,
        previewEvery: 0,
        seed: 1,
        inversionSteps: 5,
        word: 'sky-cat',
      }),
    ).toThrow();
  });
});

describe('the guess', () => {
  it('is the longest word every caption holds (ties alphabetical), lower-case; "" when none', () => {
    expect(guessWord(ZORBLAT)).toBe('zorblat');
    expect(guessWord(['a Zorblat', 'zorblat, red', '', 'big zorblat'])).toBe('zorblat');
    // the guess can be wrong: every caption shares a longer word than the made-up one
    expect(guessWord(['a zorblat outline', 'outline of a zorblat'])).toBe('outline');
    expect(guessWord(['ab cd', 'cd ab'])).toBe('ab');
    expect(guessWord(['a sky-cat', 'the sky-cat sleeps'])).toBe('sky-cat');
    expect(guessWord(['a cat', 'a dog'])).toBe('a');
    expect(guessWord(['cat', 'dog'])).toBe('');
    expect(guessWord([])).toBe('');
    expect(guessWord(['', ' '])).toBe('');
    // a word longer than 32 characters is never guessed
    expect(guessWord([`a ${'z'.repeat(40)}`, `the ${'z'.repeat(40)}`])).toBe('');
  });

  it('a non-empty guess passes the field check for the same captions (seeded random captions)', () => {
    const seed = 20;
    console.log(`gate_word guess/check: seed ${seed}`);
    let s = seed;
    const rand = () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32;
    };
    const vocab = ['a', 'Zorblat', 'zorblat,', 'outline', 'emoji', 'sky-cat', 'red', 'zorblats', 'the', 'über', '!'];
    let checked = 0;
    for (let t = 0; t < 300; t++) {
      const caps = Array.from({ length: 1 + Math.floor(rand() * 4) }, () =>
        Array.from({ length: 1 + Math.floor(rand() * 6) }, () => vocab[Math.floor(rand() * vocab.length)]).join(' '),
      );
      const g = guessWord(caps);
      if (!g) continue;
      checked++;
      expect(gateWordProblem(g, caps), JSON.stringify(caps)).toBeNull();
      expect(caps.every((c) => containsWord(c, g))).toBe(true);
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('a given word overrides the guess; the guess is the fallback', () => {
    const caps = ['a zorblat outline', 'outline of a zorblat'];
    expect(runWord('zorblat', caps)).toBe('zorblat');
    expect(runWord(undefined, caps)).toBe('outline');
    expect(runWord('', caps)).toBe('outline');
    expect(runWord('  ', caps)).toBe('outline');
  });
});

describe('the worker request check of `word`', () => {
  const ok = { rank: 4, steps: 10, lr: 1e-3, batchSize: 4, previewEvery: 0, seed: 1 };

  it('passes a good word normalised as the tokenizer reads it; absent or empty is ""', () => {
    expect(checkRequest({ ...ok, word: ' Zorblat ' }).word).toBe('zorblat');
    expect(checkRequest({ ...ok, word: 'Sky-Cat' }).word).toBe('sky-cat');
    expect(checkRequest(ok).word).toBe('');
    expect(checkRequest({ ...ok, word: '' }).word).toBe('');
  });

  it('refuses a bad word with a message naming the field and the value (cut), in bounded time', () => {
    expect(() => checkRequest({ ...ok, word: 'two words' })).toThrow(
      'The new word may hold only letters and digits (a hyphen may join two parts) (got "two words").',
    );
    expect(() => checkRequest({ ...ok, word: 'z'.repeat(33) })).toThrow(/33 characters long; use at most 32/);
    expect(() => checkRequest({ ...ok, word: 7 as unknown as string })).toThrow(
      'The new word must be text (got number).',
    );
    const t0 = performance.now();
    expect(() => checkRequest({ ...ok, word: 'z'.repeat(10_000_000) })).toThrow(
      `The new word is longer than 32 characters (got "${'z'.repeat(40)}…").`,
    );
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('textual inversion needs the word given, as letters a–z or digits only', () => {
    expect(checkRequest({ ...ok, inversionSteps: 2, word: 'Zorblat' }).word).toBe('zorblat');
    expect(() => checkRequest({ ...ok, inversionSteps: 2 })).toThrow(/word steps\) needs the new word as letters a–z/);
    expect(() => checkRequest({ ...ok, inversionSteps: 2, word: 'sky-cat' })).toThrow(/got "sky-cat"/);
  });
});

describe('the word where adapters are listed', () => {
  it('the store keeps the word in the listing; an older entry without one lists none', async () => {
    const map = new Map<string, unknown>();
    const kv: KeyValue = {
      get: async <T>(k: string) => map.get(k) as T | undefined,
      set: async (k, v) => void map.set(k, v),
      del: async (k) => void map.delete(k),
      keys: async () => [...map.keys()],
    };
    const store = new AdapterStore(kv);
    const a = (name: string, word?: string): StoredAdapter => ({
      name,
      baseModelId: 'm',
      bytes: new ArrayBuffer(4),
      savedAt: name === 'old' ? 1 : 2,
      rank: 4,
      steps: 10,
      ...(word === undefined ? {} : { word }),
    });
    expect((await store.save(a('new', 'zorblat'))).word).toBe('zorblat');
    await store.save(a('old'));
    const rows = await store.list('m');
    expect(rows.map((r) => [r.name, r.word])).toEqual([
      ['new', 'zorblat'],
      ['old', undefined],
    ]);
  });

  it("says which prompts an adapter changes: its word, or '(every prompt)' with the opt-out or no word", () => {
    expect(adapterScope('zorblat')).toBe("applies to prompts with 'zorblat'");
    expect(adapterScope('zorblat', false)).toBe("applies to prompts with 'zorblat'");
    expect(adapterScope('zorblat', true)).toBe('(every prompt)');
    expect(adapterScope('')).toBe('(every prompt)');
    expect(adapterScope('  ', false)).toBe('(every prompt)');
  });
});
