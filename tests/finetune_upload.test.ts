// Upload logic of fine-tuning (src/finetune/upload.ts): magic-byte sniffing, refusals with reasons, caption
// files (.txt by name or in order, .json), caption assignment; and the run's pure helpers
// (src/worker/finetune/session.ts: request checks, seeded batch order). No GPU.
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
import { batchOrder, checkRequest, FineTuneRun } from '../src/worker/finetune/session';
import type { FineTunePort } from '../src/worker/finetune/port';
import type { FineTuneProgress } from '../src/worker/api';
import type { LoraAdapter, StepResult } from '../src/finetune/api';
import { centreSquare } from '../src/worker/finetune/images';
import { unchangedControls } from './control_stub';

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
    const src = parseCaptionFile(
      'captions.txt',
      '# comment\r\nA.PNG: a zorblat on grass\nb: named without extension\n\nc.jpg:  a  zorblat\tsleeping \n',
    );
    expect(src.byName.get('a.png')).toBe('a zorblat on grass');
    expect(src.byName.get('c.jpg')).toBe('a zorblat sleeping');
    expect(src.byName.get('b')).toBe('named without extension'); // a stem: matches b.png, b.jpg, …
    expect(src.ordered).toEqual([]);
    expect(assignCaptions(['photos/a.png', 'C.JPG', 'c.png'], [src])).toEqual([
      'a zorblat on grass',
      'a zorblat sleeping',
      'a zorblat sleeping',
    ]);
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
    expect(checkRequest(ok).adapt).toBe('all');
    expect(checkRequest({ ...ok, adapt: 'text' }).adapt).toBe('text');
    expect(() => checkRequest({ ...ok, adapt: 'everything' as never })).toThrow(
      /What to adapt must be one of all, generator, text/,
    );
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

describe('run loop with a stand-in trainer', () => {
  /** A trainer whose step `badStep` reports a non-finite loss (the real one's NaN guard). */
  function fakePort(badStep: number, log: string[]): FineTunePort {
    const adapter = {
      config: { rank: 1, alpha: 1, targets: [] },
      info: { steps: 0 },
      pairs: new Map(),
    } as unknown as LoraAdapter;
    return {
      createTrainer: () => {
        let done = 0;
        let calls = 0;
        return {
          get stepsDone() {
            return done;
          },
          step: async (): Promise<StepResult> => {
            calls++;
            const ok = calls !== badStep;
            if (ok) done++;
            return {
              step: calls,
              loss: ok ? 3 / calls : Number.NaN,
              gradNorm: 1,
              lr: 0.1,
              applied: ok,
              nonFinite: ok ? null : 'loss',
              maskedTokens: 4,
            };
          },
          evaluate: async () => ({ loss: 0, maskedTokens: 0 }),
          getAdapter: async () => (log.push(`adapter@${done}`), adapter),
          dispose: () => void log.push('dispose'),
        };
      },
      mergeAdapter: (w) => w,
      serializeAdapter: () => new ArrayBuffer(0),
      parseAdapter: () => adapter,
      createWordInversion: () => {
        throw new Error('no textual inversion in this test');
      },
    };
  }
  const dataset = {
    genId: 'g',
    count: 2,
    hw: 4,
    lt: 3,
    tokens: new Int32Array(8),
    textIds: new Int32Array(6),
    captions: ['a zorblat', 'a zorblat'],
  };

  it('a non-finite step stops the run, says what to do, and keeps the last good adapter', async () => {
    const log: string[] = [];
    const events: FineTuneProgress[] = [];
    const run = new FineTuneRun(
      {
        engine: {} as never,
        port: fakePort(3, log),
        base: { ref: { modelId: 'g', config: {} as never }, weights: new Map() },
        dataset,
        emptyTextIds: new Int32Array(3),
        preview: async () => (log.push('preview'), { width: 1, height: 1, rgba: new Uint8ClampedArray(4) }),
        renderControls: unchangedControls,
        encodeText: () => new Int32Array(3),
        onProgress: async (p) => void events.push(p),
      },
      { rank: 1, steps: 10, lr: 0.5, batchSize: 4, previewEvery: 0, seed: 0 },
    );
    const res = await run.run();
    expect(res).toMatchObject({ status: 'stopped', steps: 2, canSave: true });
    expect(res.losses.slice(0, 2)).toEqual([3, 1.5]);
    const stop = events.find((p) => p.kind === 'nan-stop');
    expect(stop).toMatchObject({ kind: 'nan-stop', step: 3 });
    expect(stop && 'message' in stop && stop.message).toMatch(/lower the learning rate/);
    expect(events.at(-1)).toMatchObject({ kind: 'done', status: 'stopped', steps: 2 });
    expect(log).toEqual(['adapter@2', 'dispose']); // no preview of a broken run; the trainer is freed
  });
});
