// Hostile uploads for fine-tuning (src/finetune/upload.ts), no GPU: a PNG named x.html gets an image/png thumbnail
// blob (never the claimed type); image sizes are read from PNG / JPEG / WebP headers before decoding and a huge
// claimed size is refused; `name: caption` lines without an extension go to the picture of that name, and a name
// no picture has is reported instead of being handed to another picture; caption files are bounded.
import { describe, expect, it } from 'vitest';
import {
  imageBlob,
  imageDimensions,
  imageHeaderProblem,
  matchCaptions,
  MAX_CAPTION_ENTRIES,
  MAX_IMAGE_PIXELS,
  parseCaptionFile,
  sniffImageFormat,
} from '../src/finetune/upload';

const u32be = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
/** A PNG's signature and IHDR (enough for the header; no pixel data). */
function pngHead(w: number, h: number): Uint8Array {
  return new Uint8Array([
    0x89,
    0x50,
    0x4e,
    0x47,
    0x0d,
    0x0a,
    0x1a,
    0x0a,
    ...u32be(13),
    0x49,
    0x48,
    0x44,
    0x52,
    ...u32be(w),
    ...u32be(h),
    8,
    2,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
}
/** SOI, an APP0 segment (skipped), a fill byte, then SOF2 (progressive) with the size. */
function jpegHead(w: number, h: number): Uint8Array {
  const app0 = [0xff, 0xe0, 0, 16, ...new Array(14).fill(0x41)];
  return new Uint8Array([
    0xff,
    0xd8,
    ...app0,
    0xff,
    0xff,
    0xc2,
    0,
    17,
    8,
    h >> 8,
    h & 255,
    w >> 8,
    w & 255,
    3,
    ...new Array(9).fill(0),
  ]);
}
const riff = (fourcc: string, payload: number[]) =>
  new Uint8Array([
    0x52,
    0x49,
    0x46,
    0x46,
    0,
    0,
    0,
    0,
    0x57,
    0x45,
    0x42,
    0x50,
    ...[...fourcc].map((c) => c.charCodeAt(0)),
    0,
    0,
    0,
    0,
    ...payload,
    ...new Array(16).fill(0),
  ]);
const webpVp8 = (w: number, h: number) => riff('VP8 ', [0, 0, 0, 0x9d, 0x01, 0x2a, w & 255, w >> 8, h & 255, h >> 8]);
function webpVp8l(w: number, h: number): Uint8Array {
  const bits = ((w - 1) | ((h - 1) << 14)) >>> 0;
  return riff('VP8L', [0x2f, bits & 255, (bits >>> 8) & 255, (bits >>> 16) & 255, (bits >>> 24) & 255]);
}
const webpVp8x = (w: number, h: number) =>
  riff('VP8X', [
    0,
    0,
    0,
    0,
    (w - 1) & 255,
    ((w - 1) >> 8) & 255,
    (w - 1) >> 16,
    (h - 1) & 255,
    ((h - 1) >> 8) & 255,
    (h - 1) >> 16,
  ]);

describe('thumbnails carry the sniffed type', () => {
  it('a PNG named x.html (dropped as text/html) becomes an image/png blob', async () => {
    const bytes = new Uint8Array([
      ...pngHead(4, 4),
      ...new TextEncoder().encode('<html><script>alert(indexedDB)</script></html>'),
    ]);
    const format = sniffImageFormat(bytes)!;
    expect(format).toBe('png');
    const blob = imageBlob(bytes.buffer, format);
    expect(blob.type).toBe('image/png');
    expect(blob.size).toBe(bytes.length);
  });
});

describe('image size from the header, before decoding', () => {
  it('reads PNG, JPEG (after other segments), WebP VP8 / VP8L / VP8X', () => {
    expect(imageDimensions(pngHead(640, 480), 'png')).toEqual({ width: 640, height: 480 });
    expect(imageDimensions(jpegHead(4032, 3024), 'jpeg')).toEqual({ width: 4032, height: 3024 });
    expect(imageDimensions(webpVp8(300, 200), 'webp')).toEqual({ width: 300, height: 200 });
    expect(imageDimensions(webpVp8l(16383, 9), 'webp')).toEqual({ width: 16383, height: 9 });
    expect(imageDimensions(webpVp8x(16_000_000, 3), 'webp')).toEqual({ width: 16_000_000, height: 3 });
  });

  it('refuses 10000×10000 in every format, accepts a phone photo, and says why', () => {
    for (const [fmt, head] of [
      ['png', pngHead(10000, 10000)],
      ['jpeg', jpegHead(10000, 10000)],
      ['webp', webpVp8x(10000, 10000)],
    ] as const) {
      const why = imageHeaderProblem(head, fmt);
      expect(why, fmt).toMatch(/10000×10000 pixels \(100 MP\); the limit is 40 MP/);
    }
    expect(imageHeaderProblem(pngHead(4032, 3024), 'png')).toBe('');
    expect(imageHeaderProblem(jpegHead(6000, 6000), 'jpeg')).toBe(''); // 36 MP < MAX_IMAGE_PIXELS
    expect(MAX_IMAGE_PIXELS).toBe(40_000_000);
  });

  it('a header that gives no size (truncated, no SOF, zero size) is refused, not decoded', () => {
    expect(imageHeaderProblem(pngHead(5, 5).subarray(0, 20), 'png')).toMatch(/header is damaged/);
    expect(imageHeaderProblem(new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0, 4, 0, 0, 0, 0, 0, 0]), 'jpeg')).toMatch(
      /header is damaged/,
    );
    expect(
      imageHeaderProblem(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0xff, 0xff, ...new Array(20).fill(0)]), 'jpeg'),
    ).toMatch(/header is damaged/);
    expect(imageHeaderProblem(pngHead(0, 7), 'png')).toMatch(/no picture/);
  });
});

describe('captions by name', () => {
  it('`name: caption` without the extension goes to that picture, whatever the drop order', () => {
    const src = parseCaptionFile('captions.txt', 'cat2: a zorblat asleep\ncat1: a zorblat jumping\n');
    const { captions, unmatched } = matchCaptions(['cat1.png', 'cat2.JPG'], [src]);
    expect(captions).toEqual(['a zorblat jumping', 'a zorblat asleep']);
    expect(unmatched).toEqual([]);
  });

  it('a named caption that matches no picture is reported and given to nobody', () => {
    const src = parseCaptionFile('captions.txt', 'dog: a zorblat barking\nplain caption for whoever\n');
    const { captions, unmatched } = matchCaptions(['cat1.png', 'cat2.png'], [src]);
    expect(captions).toEqual(['plain caption for whoever', '']);
    expect(unmatched).toEqual(['captions.txt: dog']);
  });

  it('names with extensions still match by stem across extensions', () => {
    const src = parseCaptionFile('c.txt', 'a.png: one\nb.jpeg: two\n');
    expect(matchCaptions(['a.png', 'b.png'], [src])).toEqual({ captions: ['one', 'two'], unmatched: [] });
  });

  it('a caption file gives at most MAX_CAPTION_ENTRIES captions and says so', () => {
    const lines = Array.from({ length: MAX_CAPTION_ENTRIES + 50 }, (_, i) => `caption number ${i}`).join('\n');
    const src = parseCaptionFile('many.txt', lines);
    expect(src.ordered.length).toBe(MAX_CAPTION_ENTRIES);
    expect(src.problems.join()).toMatch(/only the first 4096 captions/);
    const json = parseCaptionFile(
      'many.json',
      JSON.stringify(Object.fromEntries(Array.from({ length: MAX_CAPTION_ENTRIES + 1 }, (_, i) => [`p${i}.png`, 'x']))),
    );
    expect(json.byName.size).toBe(MAX_CAPTION_ENTRIES);
  });
});
