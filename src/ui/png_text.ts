// Text metadata in PNG files: writes `tEXt` chunks (Latin-1 text) and, for text outside Latin-1, `iTXt` chunks
// (uncompressed UTF-8), inserted right after IHDR so that readers see them before the image data.
// A chunk is length (u32 BE) · type · data · CRC-32 (u32 BE) over type+data (PNG spec §5.3).

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (ISO 3309, the one PNG and zlib use). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

const isLatin1 = (s: string) => /^[\x20-\x7e\xa0-\xff\n]*$/.test(s);
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** One text chunk: `tEXt` when `text` is Latin-1, else `iTXt` (UTF-8, uncompressed, no language tag).
 *  The keyword must be 1–79 printable Latin-1 characters (PNG spec). */
export function pngTextChunk(keyword: string, text: string): Uint8Array {
  if (
    !/^[\x21-\x7e\xa1-\xff][\x20-\x7e\xa1-\xff]{0,78}$/.test(keyword) ||
    keyword.endsWith(' ') ||
    keyword.includes('  ')
  ) {
    throw new Error(`not a PNG text keyword: ${JSON.stringify(keyword)}`);
  }
  const key = latin1(keyword);
  if (isLatin1(text)) {
    const body = latin1(text);
    const data = new Uint8Array(key.length + 1 + body.length);
    data.set(key);
    data.set(body, key.length + 1);
    return chunk('tEXt', data);
  }
  // iTXt: keyword 0 · compression flag 0 · method 0 · language '' 0 · translated keyword '' 0 · UTF-8 text
  const body = new TextEncoder().encode(text);
  const data = new Uint8Array(key.length + 5 + body.length);
  data.set(key);
  data.set(body, key.length + 5);
  return chunk('iTXt', data);
}

/** `png` with one text chunk per entry inserted after IHDR (the image itself is unchanged). */
export function withPngText(png: Uint8Array, entries: Record<string, string>): Uint8Array<ArrayBuffer> {
  if (png.length < 33 || PNG_SIGNATURE.some((b, i) => png[i] !== b)) throw new Error('not a PNG file');
  const afterIhdr = 8 + 12 + new DataView(png.buffer, png.byteOffset).getUint32(8); // signature + IHDR chunk
  const chunks = Object.entries(entries).map(([k, v]) => pngTextChunk(k, v));
  const out = new Uint8Array(png.length + chunks.reduce((s, c) => s + c.length, 0));
  out.set(png.subarray(0, afterIhdr));
  let at = afterIhdr;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  out.set(png.subarray(afterIhdr), at);
  return out;
}
