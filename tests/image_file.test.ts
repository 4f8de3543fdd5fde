// Downloaded images: the file name (prompt slug, seed, steps, model id) and the PNG text chunks written by
// src/ui/png_text.ts, checked by parsing the bytes back chunk by chunk with CRCs from node's zlib (an independent
// CRC-32) and inflating the image data to see it unchanged. No GPU, no DOM.
import { crc32 as zlibCrc32, deflateSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { canvasLabel, imageFacts, imageFileName, imageTextEntries, slug, type ImageFacts } from '../src/ui/image_file';
import { crc32, pngTextChunk, withPngText } from '../src/ui/png_text';

/** A 3×2 RGB PNG (no filter) with known pixels. */
function tinyPng(): { png: Uint8Array; raw: Buffer } {
  const raw = Buffer.from([0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(zlibCrc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(3, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  return { png: new Uint8Array(png), raw };
}

/** Every chunk of a PNG, its CRC checked; text chunks decoded ({keyword: text}). */
function parse(bytes: Uint8Array): { types: string[]; text: Record<string, string>; idat: Buffer } {
  const b = Buffer.from(bytes);
  expect([...b.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const types: string[] = [];
  const text: Record<string, string> = {};
  const idat: Buffer[] = [];
  let at = 8;
  while (at < b.length) {
    const len = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    const data = b.subarray(at + 8, at + 8 + len);
    expect(b.readUInt32BE(at + 8 + len), `CRC of ${type}`).toBe(zlibCrc32(b.subarray(at + 4, at + 8 + len)));
    types.push(type);
    if (type === 'tEXt') {
      const z = data.indexOf(0);
      text[data.toString('latin1', 0, z)] = data.toString('latin1', z + 1);
    } else if (type === 'iTXt') {
      const z = data.indexOf(0);
      expect([...data.subarray(z + 1, z + 5)]).toEqual([0, 0, 0, 0]); // uncompressed, no language, no translation
      text[data.toString('latin1', 0, z)] = data.toString('utf8', z + 5);
    } else if (type === 'IDAT') idat.push(Buffer.from(data));
    at += 12 + len;
  }
  expect(at).toBe(b.length);
  return { types, text, idat: Buffer.concat(idat) };
}

const facts: ImageFacts = { prompt: 'Red apple!', seed: 42, steps: 12, guidance: 4, modelId: 'mmamba-s' };

describe('PNG text chunks', () => {
  it('CRC-32 matches zlib on known and random bytes', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926); // the standard check value
    const seed = 7;
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 2654435761 + seed) >>> 24);
    console.log(`crc seed ${seed}`);
    expect(crc32(bytes)).toBe(zlibCrc32(bytes));
  });

  it('inserts tEXt after IHDR with valid CRCs and leaves the image unchanged', () => {
    const { png, raw } = tinyPng();
    const out = withPngText(png, imageTextEntries(facts));
    const p = parse(out);
    expect(p.types[0]).toBe('IHDR');
    expect(p.types.slice(-2)).toEqual(['IDAT', 'IEND']);
    expect(p.types.slice(1, -2).every((t) => t === 'tEXt')).toBe(true);
    expect(p.text).toMatchObject({
      Title: 'Red apple!',
      prompt: 'Red apple!',
      seed: '42',
      steps: '12',
      guidance: '4',
      model: 'mmamba-s',
      Software: 'M-Mamba Web',
    });
    expect(p.text.Description).toBe('"Red apple!", seed 42, 12 steps, guidance 4, model mmamba-s');
    expect(inflateSync(p.idat)).toEqual(raw);
  });

  it('writes text outside Latin-1 as UTF-8 iTXt', () => {
    const { png } = tinyPng();
    const p = parse(withPngText(png, { Title: 'pomme rouge 🍎 яблоко', seed: '1' }));
    expect(p.types).toEqual(['IHDR', 'iTXt', 'tEXt', 'IDAT', 'IEND']);
    expect(p.text).toEqual({ Title: 'pomme rouge 🍎 яблоко', seed: '1' });
  });

  it('refuses bad keywords and non-PNG input', () => {
    expect(() => pngTextChunk('', 'x')).toThrow(/keyword/);
    expect(() => pngTextChunk('x'.repeat(80), 'x')).toThrow(/keyword/);
    expect(() => withPngText(new Uint8Array(40), {})).toThrow(/not a PNG/);
  });
});

describe('download file name', () => {
  it('carries prompt slug, seed, steps and model id', () => {
    expect(imageFileName({ ...facts, prompt: 'red apple' })).toBe('red-apple_seed42_12steps_mmamba-s.png');
    expect(imageFileName({ ...facts, steps: 1 })).toBe('red-apple_seed42_1step_mmamba-s.png');
    expect(imageFileName(facts, 3)).toBe('red-apple_seed42_12steps_mmamba-s_step3.png');
    expect(imageFileName({ ...facts, prompt: '', adapter: 'My Cat' })).toBe(
      'unconditional_seed42_12steps_mmamba-s_my-cat.png',
    );
  });

  it('slugs accents, punctuation and long prompts', () => {
    expect(slug('  Crème Brûlée, FLAT emoji style!! ')).toBe('creme-brulee-flat-emoji-style');
    expect(slug('🍎🍎')).toBe('');
    const long = slug('a very long prompt about a small red apple sitting on a wooden table');
    expect(long.length).toBeLessThanOrEqual(40);
    expect(long).toBe('a-very-long-prompt-about-a-small-red');
  });

  it('imageFacts reads a request', () => {
    expect(imageFacts({ prompt: 'x', seed: 5, steps: 3, guidance: 1, negativePrompt: 'dark' }, 'm')).toEqual({
      prompt: 'x',
      seed: 5,
      steps: 3,
      guidance: 1,
      negativePrompt: 'dark',
      modelId: 'm',
      adapter: undefined,
    });
  });
});

describe('canvas label', () => {
  it('names the shown image after its prompt and step', () => {
    expect(canvasLabel('a red heart', 3, 12)).toBe('Generated image of “a red heart”, step 3 of 12');
    expect(canvasLabel('', 1, 1)).toBe('Unconditional generated image, step 1 of 1');
    expect(canvasLabel(undefined, 2, 4)).toBe('Generated image, step 2 of 4');
  });
});
