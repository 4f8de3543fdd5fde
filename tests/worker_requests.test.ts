// The worker's check of a generation request from postMessage (src/worker/generation/requests.ts): `{}`, null, a list,
// wrong types, guidance 1e308, NaN seeds and giant step counts are refused with a message naming the field; a good
// request passes with steps rounded and the seed as a u32. Fine-tuning requests: the preview prompt is cut like a
// generation prompt (a 100,000-character one costs nothing), preview guidance is bounded; captions are cleaned in
// bounded time. No GPU.
import { describe, expect, it } from 'vitest';
import { cleanCaption, MAX_CAPTION_CHARS } from '../src/finetune/upload';
import { MAX_PROMPT_CHARS, type FineTuneRequest } from '../src/worker/api';
import { checkRequest } from '../src/worker/finetune/session';
import {
  checkGenerateRequest,
  InvalidGenerateRequestError,
  MAX_PROMPT_WIRE_CHARS,
  REQUEST_LIMITS,
} from '../src/worker/generation/requests';

describe('generation requests from outside', () => {
  it('refuses things that are not requests, with a message instead of a TypeError', () => {
    for (const bad of [null, undefined, 7, 'a cat', [], [1, 2]]) {
      expect(() => checkGenerateRequest(bad)).toThrow(InvalidGenerateRequestError);
      expect(() => checkGenerateRequest(bad)).toThrow(
        /Invalid generation request: expected an object like \{prompt, seed, steps\}/,
      );
    }
    expect(() => checkGenerateRequest({})).toThrow(/prompt is undefined; it must be text/);
    expect(() => checkGenerateRequest({ prompt: 'x' })).toThrow(
      /seed is undefined; it must be a number from 0 to 4294967295/,
    );
  });

  it('refuses out-of-range and non-finite numbers, naming the field and the range', () => {
    const ok = { prompt: 'a cat', seed: 1 };
    expect(() => checkGenerateRequest({ ...ok, guidance: 1e308 })).toThrow(
      /guidance is 1e\+308; it must be a number from 0 to 20/,
    );
    expect(() => checkGenerateRequest({ ...ok, guidance: Number.NaN })).toThrow(/guidance is NaN/);
    expect(() => checkGenerateRequest({ ...ok, steps: 1e9 })).toThrow(
      /steps is 1000000000; it must be a number from 1 to 64/,
    );
    expect(() => checkGenerateRequest({ ...ok, steps: '12' })).toThrow(/steps is "12"/);
    expect(() => checkGenerateRequest({ ...ok, seed: Number.POSITIVE_INFINITY })).toThrow(/seed is Infinity/);
    expect(() => checkGenerateRequest({ ...ok, seed: -1 })).toThrow(/seed is -1/);
    expect(() => checkGenerateRequest({ ...ok, tau: -0.5 })).toThrow(/tau is -0.5/);
    expect(() => checkGenerateRequest({ ...ok, temperature: 0 })).toThrow(/temperature is 0/);
    expect(() => checkGenerateRequest({ ...ok, negativePrompt: 5 })).toThrow(/negativePrompt is 5; it must be text/);
    expect(() => checkGenerateRequest({ ...ok, adapter: { name: 'x' } })).toThrow(/adapter is object/);
    expect(() => checkGenerateRequest({ ...ok, prompt: 'x'.repeat(MAX_PROMPT_WIRE_CHARS + 1) })).toThrow(
      /at most 1000000 are accepted/,
    );
  });

  it('passes a good request through, steps rounded, the seed a u32, empty adapter = none', () => {
    expect(
      checkGenerateRequest({
        prompt: '',
        seed: 4294967294.7,
        steps: 11.6,
        guidance: 0,
        tau: 4.5,
        temperature: 1,
        adapter: '',
      }),
    ).toEqual({
      prompt: '',
      seed: 4294967294,
      steps: 12,
      guidance: 0,
      tau: 4.5,
      temperature: 1,
    });
    expect(checkGenerateRequest({ prompt: 'a cat', seed: 3, negativePrompt: 'blur', adapter: 'zorblat' })).toEqual({
      prompt: 'a cat',
      seed: 3,
      negativePrompt: 'blur',
      adapter: 'zorblat',
    });
    expect(REQUEST_LIMITS.guidance).toEqual([0, 20]);
  });
});

describe('edit and variation fields of a generation request', () => {
  const ok = { prompt: 'a cat', seed: 1 };
  const keep = [1, 0, 1, 1];
  it('passes a good edit and variations through as typed arrays', () => {
    const r = checkGenerateRequest({ ...ok, initTokens: [5, 0, 7, 4294967295], keep, variations: 4 });
    expect(r.initTokens).toEqual(Uint32Array.of(5, 0, 7, 4294967295));
    expect(r.keep).toEqual(Uint8Array.of(1, 0, 1, 1));
    expect(r.variations).toBe(4);
    expect(checkGenerateRequest({ ...ok, initTokens: Uint32Array.of(1, 2), keep: Uint8Array.of(0, 1) }).keep).toEqual(
      Uint8Array.of(0, 1),
    );
  });

  it('refuses malformed edits and variations with a message naming the field', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ initTokens: [1, 2, 3, 4] }, /keep came alone|initTokens came alone/],
      [{ keep }, /keep came alone/],
      [{ initTokens: 'abcd', keep }, /initTokens is "abcd"; it must be a list of token ids/],
      [
        { initTokens: [1, 2, 3, 4], keep: { length: 4 } },
        /keep is object; it must be a list of 0 \(re-generate\) and 1 \(keep\)/,
      ],
      [{ initTokens: [1, 2, 3], keep }, /initTokens has 3 and keep 4 entries/],
      [{ initTokens: new Array(2000).fill(0), keep: new Array(2000).fill(0) }, /at most 1024/],
      [
        { initTokens: [1, 2, 3, 4], keep: [1, 0, 2, 1] },
        /keep\[2\] is 2; each entry must be 0 \(re-generate\) or 1 \(keep\)/,
      ],
      [{ initTokens: [1, -2, 3, 4], keep }, /initTokens\[1\] is -2/],
      [{ initTokens: [1, 2.5, 3, 4], keep }, /initTokens\[1\] is 2.5/],
      [{ initTokens: [1, 2, 3, 4], keep: [1, 1, 1, 1] }, /the mask is empty \(keep keeps every token\)/],
      [{ initTokens: [1, 2, 3, 4], keep: [0, 0, 0, 0] }, /the mask covers every token \(keep keeps none\)/],
      [{ variations: 9 }, /variations is 9; it must be a number from 1 to 8/],
      [{ variations: 2.5 }, /variations is 2.5; it must be a whole number/],
      [{ variations: '3' }, /variations is "3"/],
    ];
    for (const [fields, why] of bad) {
      expect(() => checkGenerateRequest({ ...ok, ...fields }), JSON.stringify(fields).slice(0, 80)).toThrow(
        InvalidGenerateRequestError,
      );
      expect(() => checkGenerateRequest({ ...ok, ...fields })).toThrow(why);
    }
  });
});

describe('fine-tuning requests from outside', () => {
  const ok = { rank: 4, steps: 10, lr: 1e-3, batchSize: 4, previewEvery: 0, seed: 1 };

  it('a 100,000-character preview prompt is cut to 200 code points, without walking the rest', () => {
    const long = '🐶'.repeat(100_000);
    const t0 = performance.now();
    const r = checkRequest({ ...ok, previewPrompt: long });
    expect(Array.from(r.previewPrompt)).toHaveLength(MAX_PROMPT_CHARS);
    expect(r.previewPrompt).toBe('🐶'.repeat(MAX_PROMPT_CHARS));
    expect(performance.now() - t0).toBeLessThan(50);
  });

  it('refuses a non-text preview prompt, an out-of-range preview guidance, and a request that is not an object', () => {
    expect(() => checkRequest({ ...ok, previewPrompt: 7 as unknown as string })).toThrow(/Preview prompt must be text/);
    expect(() => checkRequest({ ...ok, previewGuidance: 1e308 })).toThrow(
      /Preview guidance must be a number from 0 to 20 \(got 1e\+308\)/,
    );
    expect(() => checkRequest({ ...ok, previewGuidance: Number.NaN })).toThrow(/Preview guidance/);
    expect(() => checkRequest(null as unknown as FineTuneRequest)).toThrow(/must be an object/);
    expect(checkRequest(ok).previewGuidance).toBe(4);
  });

  it("a preview guidance left out is the generator's recommendation; one given is checked and kept", () => {
    expect(checkRequest(ok, { guidance: 2.5, tau: 6 }).previewGuidance).toBe(2.5);
    expect(checkRequest(ok, { tau: 6 }).previewGuidance).toBe(4); // no guidance recommended: the page-wide default
    expect(checkRequest({ ...ok, previewGuidance: 7 }, { guidance: 2.5 }).previewGuidance).toBe(7);
    expect(() => checkRequest({ ...ok, previewGuidance: -1 }, { guidance: 2.5 })).toThrow(/Preview guidance/);
  });

  it('a 10 MB caption is cleaned in bounded time to at most MAX_CAPTION_CHARS code points', () => {
    const t0 = performance.now();
    const c = cleanCaption(`a   zorblat ${'x'.repeat(10_000_000)}`);
    expect(Array.from(c)).toHaveLength(MAX_CAPTION_CHARS);
    expect(c.startsWith('a zorblat x')).toBe(true);
    expect(performance.now() - t0).toBeLessThan(200);
  });
});
