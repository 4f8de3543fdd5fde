// Upload logic of fine-tuning (src/finetune/upload.ts): magic-byte sniffing, refusals with reasons, caption
// files (.txt by name or in order, .json), caption assignment; and the run's pure helpers (finetune-session.ts:
// request checks, seeded batch order). No GPU.
import { describe, expect, it } from 'vitest';
import {
  assignCaptions,
  classifyFile,
  cleanCaption,
  MAX_CAPTION_CHARS,
  MAX_IMAGE_BYTES,
  parseCaptionFile,
  sniffImageFormat,
} from '../src/finetune/upload';
import { batchOrder, checkRequest } from '../src/worker/finetune-session';
import { centreSquare } from '../src/worker/finetune-images';

const bytes = (...b: number[]) => new Uint8Array([...b, ...new Array(16).fill(0)]);
const PNG = bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const JPEG = bytes(0xff, 0xd8, 0xff, 0xe0);
const WEBP = new Uint8Array([0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x45, 0x42, 0x50, 0, 0, 0, 0]);
const ascii = (s: string) => new TextEncoder().encode(s.padEnd(16, ' '));

describe('sniffing and refusals', () => {
  it('recognises PNG, JPEG and WebP by their first bytes only', () => {
    expect(sniffImageFormat(PNG)).toBe('png');
    expect(sniffImageFormat(JPEG)).toBe('jpeg');
    expect(sniffImageFormat(WEBP)).toBe('webp');
    expect(sniffImageFormat(ascii('RIFFxxxxWAVE'))).toBeNull(); // RIFF but not WebP
    expect(sniffImageFormat(PNG.subarray(0, 4))).toBeNull(); // truncated signature
    expect(sniffImageFormat(new Uint8Array(0))).toBeNull();
  });

  it('a misnamed image still counts; a non-image named .png is refused with a reason', () => {
    expect(classifyFile('photo.txt', 1000, PNG)).toEqual({ kind: 'image', format: 'png' });
    const v = classifyFile('fake.png', 100, ascii('hello world'));
    expect(v.kind).toBe('rejected');
    expect(v.kind === 'rejected' && v.reason).toMatch(/not a PNG, JPEG or WebP/);
  });

  it('names the formats it refuses and the limits it applies', () => {
    const reason = (name: string, head: Uint8Array, size = 100) => {
      const v = classifyFile(name, size, head);
      return v.kind === 'rejected' ? v.reason : '';
    };
    expect(reason('a.gif', ascii('GIF89a'))).toMatch(/GIF is not supported/);
    expect(reason('a.bmp', bytes(0x42, 0x4d))).toMatch(/BMP/);
    expect(reason('doc.pdf', ascii('%PDF-1.7'))).toMatch(/PDF/);
    expect(reason('a.heic', bytes(0, 0, 0, 0x18))).toMatch(/HEIC/);
    expect(reason('icon.svg', ascii('<svg xmlns'))).toMatch(/SVG/);
    expect(reason('empty.png', new Uint8Array(0), 0)).toMatch(/empty/);
    expect(reason('huge.png', PNG, MAX_IMAGE_BYTES + 1)).toMatch(/limit/);
    expect(classifyFile('captions.txt', 50, ascii('a.png: x'))).toEqual({ kind: 'captions' });
    expect(reason('big.json', ascii('{'), 2 * 1024 * 1024)).toMatch(/caption file over 1 MB/);
  });
});

describe('caption files', () => {
  it('.txt with `filename: caption` lines, matched by name with or without extension, any case', () => {
    const src = parseCaptionFile('captions.txt', '# comment\r\nA.PNG: a zorblat on grass\nb: ignored because no extension\n\nc.jpg:  a  zorblat\tsleeping \n');
    expect(src.byName.get('a.png')).toBe('a zorblat on grass');
    expect(src.byName.get('c.jpg')).toBe('a zorblat sleeping');
    expect(src.ordered).toEqual(['b: ignored because no extension']);
    expect(assignCaptions(['photos/a.png', 'C.JPG', 'c.png'], [src])).toEqual(['a zorblat on grass', 'a zorblat sleeping', 'a zorblat sleeping']);
  });

  it('.txt with plain lines goes to the images in drop order', () => {
    const src = parseCaptionFile('caps.txt', '\uFEFFfirst\nsecond\n');
    expect(assignCaptions(['x.png', 'y.png', 'z.png'], [src])).toEqual(['first', 'second', '']);
  });

  it('.json object of strings; bad JSON or shapes are problems, never exceptions', () => {
    const ok = parseCaptionFile('c.json', JSON.stringify({ 'one.webp': 'a zorblat', 'two.png': 7 }));
    expect(ok.byName.get('one.webp')).toBe('a zorblat');
    expect(ok.problems).toEqual([expect.stringMatching(/"two.png" is not text/)]);
    expect(parseCaptionFile('c.json', '{nope').problems[0]).toMatch(/not valid JSON/);
    expect(parseCaptionFile('c.json', '["a"]').problems[0]).toMatch(/expected an object/);
    expect(assignCaptions(['one.webp'], [ok])).toEqual(['a zorblat']);
  });

  it('captions are cleaned and capped', () => {
    expect(cleanCaption('  a\n\nzorblat  ')).toBe('a zorblat');
    expect(Array.from(cleanCaption('🐶'.repeat(500))).length).toBe(MAX_CAPTION_CHARS);
  });
});

describe('run helpers', () => {
  it('checks every setting and says which is out of range', () => {
    const ok = { rank: 4, steps: 10, lr: 0.01, batchSize: 4, previewEvery: 5, seed: 7 };
    expect(checkRequest(ok)).toMatchObject({ ...ok, previewSteps: 8, previewGuidance: 4, previewPrompt: '' });
    expect(() => checkRequest({ ...ok, rank: 0 })).toThrow(/Rank must be a whole number from 1 to 64/);
    expect(() => checkRequest({ ...ok, steps: 1.5 })).toThrow(/Steps/);
    expect(() => checkRequest({ ...ok, batchSize: 2 })).toThrow(/Batch size must be a whole number from 4/);
    expect(() => checkRequest({ ...ok, lr: Number.NaN })).toThrow(/Learning rate/);
    expect(() => checkRequest({ ...ok, lr: 5 })).toThrow(/Learning rate/);
  });

  it('batch order: a seeded permutation per epoch, every pair once per epoch', () => {
    const a = batchOrder(5, 3);
    const b = batchOrder(5, 3);
    const epochA = Array.from({ length: 10 }, a);
    expect(Array.from({ length: 10 }, b)).toEqual(epochA);
    expect([...epochA.slice(0, 5)].sort()).toEqual([0, 1, 2, 3, 4]);
    expect([...epochA.slice(5)].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from({ length: 10 }, batchOrder(5, 4))).not.toEqual(epochA);
    expect(Array.from({ length: 3 }, batchOrder(1, 0))).toEqual([0, 0, 0]);
  });

  it('centre crop takes the largest centred square', () => {
    expect(centreSquare(400, 200)).toEqual({ sx: 100, sy: 0, side: 200 });
    expect(centreSquare(30, 90)).toEqual({ sx: 0, sy: 30, side: 30 });
  });
});
