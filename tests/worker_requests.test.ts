// The worker's check of a generation request from postMessage (src/worker/requests.ts): `{}`, null, a list, wrong
// types, guidance 1e308, NaN seeds and giant step counts are refused with a message naming the field; a good request
// passes with steps rounded and the seed as a u32. No GPU.
import { describe, expect, it } from 'vitest';
import { checkGenerateRequest, InvalidGenerateRequestError, MAX_PROMPT_WIRE_CHARS, REQUEST_LIMITS } from '../src/worker/requests';

describe('generation requests from outside', () => {
  it('refuses things that are not requests, with a message instead of a TypeError', () => {
    for (const bad of [null, undefined, 7, 'a cat', [], [1, 2]]) {
      expect(() => checkGenerateRequest(bad)).toThrow(InvalidGenerateRequestError);
      expect(() => checkGenerateRequest(bad)).toThrow(/Invalid generation request: expected an object like \{prompt, seed, steps\}/);
    }
    expect(() => checkGenerateRequest({})).toThrow(/prompt is undefined; it must be text/);
    expect(() => checkGenerateRequest({ prompt: 'x' })).toThrow(/seed is undefined; it must be a number from 0 to 4294967295/);
  });

  it('refuses out-of-range and non-finite numbers, naming the field and the range', () => {
    const ok = { prompt: 'a cat', seed: 1 };
    expect(() => checkGenerateRequest({ ...ok, guidance: 1e308 })).toThrow(/guidance is 1e\+308; it must be a number from 0 to 20/);
    expect(() => checkGenerateRequest({ ...ok, guidance: Number.NaN })).toThrow(/guidance is NaN/);
    expect(() => checkGenerateRequest({ ...ok, steps: 1e9 })).toThrow(/steps is 1000000000; it must be a number from 1 to 64/);
    expect(() => checkGenerateRequest({ ...ok, steps: '12' })).toThrow(/steps is "12"/);
    expect(() => checkGenerateRequest({ ...ok, seed: Number.POSITIVE_INFINITY })).toThrow(/seed is Infinity/);
    expect(() => checkGenerateRequest({ ...ok, seed: -1 })).toThrow(/seed is -1/);
    expect(() => checkGenerateRequest({ ...ok, tau: -0.5 })).toThrow(/tau is -0.5/);
    expect(() => checkGenerateRequest({ ...ok, temperature: 0 })).toThrow(/temperature is 0/);
    expect(() => checkGenerateRequest({ ...ok, negativePrompt: 5 })).toThrow(/negativePrompt is 5; it must be text/);
    expect(() => checkGenerateRequest({ ...ok, adapter: { name: 'x' } })).toThrow(/adapter is object/);
    expect(() => checkGenerateRequest({ ...ok, prompt: 'x'.repeat(MAX_PROMPT_WIRE_CHARS + 1) })).toThrow(/at most 1000000 are accepted/);
  });

  it('passes a good request through, steps rounded, the seed a u32, empty adapter = none', () => {
    expect(checkGenerateRequest({ prompt: '', seed: 4294967294.7, steps: 11.6, guidance: 0, tau: 4.5, temperature: 1, adapter: '' })).toEqual({
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
