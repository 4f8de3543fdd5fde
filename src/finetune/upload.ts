// Upload logic for fine-tuning, DOM-free (runs on the main thread, in the worker and in Node tests):
// which dropped files are images (by their magic bytes, never by name or MIME type alone), which are caption
// files, and which caption goes with which image.
//
// Caption files dropped beside the images:
//   .txt   one caption per line, either `filename: caption` (matched by name, case-insensitive, with or
//          without the extension on either side; a name no picture has is reported, its caption unused) or plain
//          lines given to the images in the order they were dropped
//   .json  {"filename": "caption", ...}
// A caption typed into an image's own field always wins over one from a file.
// Invariant: nothing here throws on bad input; every file gets a verdict with a reason a person can act on; every
// loop over input is bounded (file sizes, caption entries, image pixels read from the header before decoding).

export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** Largest image file accepted (a phone photo is 3–12 MB). */
export const MAX_IMAGE_BYTES = 25 * 1024 * 1024;
/** Most pairs one dataset may hold (the design targets 8–32; a little headroom). */
export const MAX_PAIRS = 64;
/** Longest caption kept, in characters (the tokenizer keeps far fewer tokens anyway). */
export const MAX_CAPTION_CHARS = 200;

/** Most pixels (width × height) an image may have: its size is read from the file's header before anything decodes
 *  it, so a small file that claims a huge picture (a 97 KB PNG of 10000×10000) never costs its decoded size. 40 MP
 *  covers phone photos at their default resolution (12–24 MP) with room. */
export const MAX_IMAGE_PIXELS = 40_000_000;
/** Most captions one caption file may give (a dataset holds at most MAX_PAIRS pictures). */
export const MAX_CAPTION_ENTRIES = 4096;
/** Largest caption file read. */
export const MAX_CAPTION_FILE_BYTES = 1024 * 1024;

/** The MIME type of each accepted format: blobs made from uploaded bytes always carry the sniffed type, never the
 *  type the dropped file claimed (an `x.html` holding a PNG must never become an HTML blob of this origin). */
export const IMAGE_MIME: Record<ImageFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

/** The blob shown as an uploaded picture's thumbnail: the bytes under the sniffed image type. */
export function imageBlob(bytes: ArrayBuffer, format: ImageFormat): Blob {
  return new Blob([bytes], { type: IMAGE_MIME[format] });
}

/** Width and height from the image's header (PNG IHDR; the first JPEG SOFn; WebP VP8, VP8L or VP8X), without
 *  decoding; null when the header does not say (damaged, truncated). Reads at most the bytes given. */
export function imageDimensions(b: Uint8Array, format: ImageFormat): { width: number; height: number } | null {
  const u16be = (i: number) => (b[i]! << 8) | b[i + 1]!;
  const u32be = (i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
  const u24le = (i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16);
  const tag = (i: number) => String.fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!);
  if (format === 'png') {
    // signature (8), IHDR length (4), "IHDR" (4), width (4), height (4)
    if (b.length < 24 || tag(12) !== 'IHDR') return null;
    return { width: u32be(16), height: u32be(20) };
  }
  if (format === 'jpeg') {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return null;
      const m = b[i + 1]!;
      if (m === 0xff) {
        i++; // fill byte
        continue;
      }
      if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
        i += 2; // markers without a length
        continue;
      }
      if (m === 0xd9 || m === 0xda) return null; // end of image / start of scan before any frame header
      const len = u16be(i + 2);
      if (len < 2) return null;
      const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
      if (isSof) return { width: u16be(i + 7), height: u16be(i + 5) };
      i += 2 + len;
    }
    return null;
  }
  // WebP: "RIFF" size "WEBP", then the first chunk's fourcc at 12 and its payload at 20.
  if (b.length < 30) return null;
  const chunk = tag(12);
  if (chunk === 'VP8 ') {
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return null;
    return { width: (b[26]! | (b[27]! << 8)) & 0x3fff, height: (b[28]! | (b[29]! << 8)) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return null;
    const bits = (b[21]! | (b[22]! << 8) | (b[23]! << 16) | (b[24]! << 24)) >>> 0;
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') return { width: u24le(24) + 1, height: u24le(27) + 1 };
  return null;
}

/** Why an image's header refuses it before decoding ('' when its size is readable and within MAX_IMAGE_PIXELS). */
export function imageHeaderProblem(bytes: Uint8Array, format: ImageFormat): string {
  const d = imageDimensions(bytes, format);
  if (!d) return `the ${format.toUpperCase()} header is damaged or incomplete (it gives no image size)`;
  if (d.width < 1 || d.height < 1)
    return `the ${format.toUpperCase()} header says ${d.width}×${d.height} pixels: no picture`;
  const px = d.width * d.height;
  if (px > MAX_IMAGE_PIXELS)
    return `the image is ${d.width}×${d.height} pixels (${(px / 1e6).toFixed(0)} MP); the limit is ${MAX_IMAGE_PIXELS / 1e6} MP: scale it down first`;
  return '';
}

/** The image format by its first bytes, or null. PNG: 89 50 4E 47 0D 0A 1A 0A; JPEG: FF D8 FF;
 *  WebP: "RIFF" ???? "WEBP". */
export function sniffImageFormat(head: Uint8Array): ImageFormat | null {
  const b = head;
  if (
    b.length >= 8 &&
    b[0] === 0x89 &&
    b[1] === 0x50 &&
    b[2] === 0x4e &&
    b[3] === 0x47 &&
    b[4] === 0x0d &&
    b[5] === 0x0a &&
    b[6] === 0x1a &&
    b[7] === 0x0a
  )
    return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (
    b.length >= 12 &&
    b[0] === 0x52 &&
    b[1] === 0x49 &&
    b[2] === 0x46 &&
    b[3] === 0x46 &&
    b[8] === 0x57 &&
    b[9] === 0x45 &&
    b[10] === 0x42 &&
    b[11] === 0x50
  )
    return 'webp';
  return null;
}

/** Why a file that is not one of our image formats was refused (names the format when it is a known one). */
export function describeNonImage(name: string, head: Uint8Array): string {
  const b = head;
  const ascii = String.fromCharCode(...b.subarray(0, 8));
  if (b.length === 0) return 'the file is empty';
  if (ascii.startsWith('GIF8')) return 'GIF is not supported; use PNG, JPEG or WebP';
  if (b[0] === 0x42 && b[1] === 0x4d) return 'BMP is not supported; use PNG, JPEG or WebP';
  if (ascii.startsWith('%PDF')) return 'a PDF is not an image; use PNG, JPEG or WebP';
  if (/\.(heic|heif|avif)$/i.test(name)) return 'HEIC/AVIF is not supported; use PNG, JPEG or WebP';
  if (/\.svg$/i.test(name) || ascii.trimStart().startsWith('<'))
    return 'SVG/text is not supported; use PNG, JPEG or WebP';
  return 'not a PNG, JPEG or WebP image (its first bytes say otherwise)';
}

export function isCaptionFileName(name: string): boolean {
  return /\.(txt|json)$/i.test(name);
}

/** Lower-case name without folders; `stem` also without the extension. */
export function baseName(name: string): { full: string; stem: string } {
  const full = name.split(/[\\/]/).pop()!.trim().toLowerCase();
  const dot = full.lastIndexOf('.');
  return { full, stem: dot > 0 ? full.slice(0, dot) : full };
}

/** Captions read from one caption file: by file name, and/or in order. */
export interface CaptionSource {
  /** Lower-case name (with its extension, or a stem when the file gave none) → caption. */
  byName: Map<string, string>;
  ordered: string[];
  /** Lines or entries that could not be used, with why (shown, never fatal). */
  problems: string[];
  /** The caption file's name (for messages about its entries). */
  file?: string;
}

export function cleanCaption(s: string): string {
  // Bounded work whatever the input: only a prefix long enough for MAX_CAPTION_CHARS code points is looked at.
  const one = s
    .slice(0, MAX_CAPTION_CHARS * 8)
    .replace(/\s+/g, ' ')
    .trim();
  return Array.from(one).slice(0, MAX_CAPTION_CHARS).join('');
}

/** Parses a caption file. A JSON file must be an object of strings; a .txt file is read line by line. */
export function parseCaptionFile(fileName: string, text: string): CaptionSource {
  const out: CaptionSource = { byName: new Map(), ordered: [], problems: [], file: fileName };
  const body = text.slice(0, MAX_CAPTION_FILE_BYTES).replace(/^\uFEFF/, '');
  const full = () => {
    if (out.byName.size + out.ordered.length < MAX_CAPTION_ENTRIES) return false;
    out.problems.push(`${fileName}: only the first ${MAX_CAPTION_ENTRIES} captions are read`);
    return true;
  };
  if (/\.json$/i.test(fileName)) {
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch (e) {
      out.problems.push(
        `${fileName}: not valid JSON (${e instanceof Error ? e.message : String(e)}); expected {"image.png": "caption"}`,
      );
      return out;
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      out.problems.push(`${fileName}: expected an object like {"image.png": "caption"}`);
      return out;
    }
    for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
      if (full()) break;
      if (typeof v !== 'string') out.problems.push(`${fileName}: the caption of "${k}" is not text`);
      else out.byName.set(baseName(k).full, cleanCaption(v));
    }
    return out;
  }
  const lines = body
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  // `name.ext: caption` (or `name.ext<TAB>caption`) where name.ext looks like a file name, or `name: caption` where
  // name is one word of file-name characters (matched against the pictures' names without extension). A named
  // line that matches no picture is reported, never handed to another picture in order.
  const named = /^([^:\t]+?\.[a-z0-9]{2,5}|[\p{L}\p{N}_.-]{1,100})\s*[:\t]\s*(.*)$/iu;
  for (const line of lines) {
    if (full()) break;
    const m = named.exec(line);
    if (m) out.byName.set(baseName(m[1]!).full, cleanCaption(m[2]!));
    else out.ordered.push(cleanCaption(line));
  }
  return out;
}

/** Captions for `imageNames` (in drop order): by full name, then by name without extension (a named entry without
 *  an extension is a stem), then the ordered lines in turn. '' where nothing matched. `unmatched`: the named entries
 *  no picture has, as "file: name" (shown to the person; their captions go to no picture). */
export function matchCaptions(
  imageNames: string[],
  sources: CaptionSource[],
): { captions: string[]; unmatched: string[] } {
  const byName = new Map<string, string>();
  const origin = new Map<string, string>();
  const ordered: string[] = [];
  for (const s of sources) {
    for (const [k, v] of s.byName) {
      byName.set(k, v);
      origin.set(k, s.file ?? 'captions');
    }
    ordered.push(...s.ordered);
  }
  /** stem → the named entry with that stem (the last one wins, as later files override earlier ones). */
  const byStem = new Map<string, string>();
  for (const k of byName.keys()) byStem.set(baseName(k).stem, k);
  const used = new Set<string>();
  let next = 0;
  const captions = imageNames.map((n) => {
    const { full, stem } = baseName(n);
    const key = byName.has(full) ? full : byName.has(stem) ? stem : byStem.get(stem);
    if (key !== undefined) {
      used.add(key);
      return byName.get(key)!;
    }
    return next < ordered.length ? ordered[next++]! : '';
  });
  const unmatched = [...byName.keys()].filter((k) => !used.has(k)).map((k) => `${origin.get(k)}: ${k}`);
  return { captions, unmatched };
}

/** The captions of `matchCaptions` alone. */
export function assignCaptions(imageNames: string[], sources: CaptionSource[]): string[] {
  return matchCaptions(imageNames, sources).captions;
}

/** The verdict on one dropped file before decoding (decoding can still refuse it later). */
export type FileVerdict =
  | { kind: 'image'; format: ImageFormat }
  | { kind: 'captions' }
  | { kind: 'rejected'; reason: string };

/** Classifies a dropped file from its name, size and first bytes (at least 12). */
export function classifyFile(name: string, size: number, head: Uint8Array): FileVerdict {
  const format = sniffImageFormat(head);
  if (format) {
    if (size > MAX_IMAGE_BYTES)
      return {
        kind: 'rejected',
        reason: `the image is ${(size / 1048576).toFixed(1)} MB; the limit is ${MAX_IMAGE_BYTES / 1048576} MB`,
      };
    return { kind: 'image', format };
  }
  if (isCaptionFileName(name)) {
    if (size > MAX_CAPTION_FILE_BYTES) return { kind: 'rejected', reason: 'a caption file over 1 MB is not read' };
    return { kind: 'captions' };
  }
  return { kind: 'rejected', reason: describeNonImage(name, head) };
}

/** Why a pair cannot be used as is ('' when fine). An empty caption is allowed but warned about. */
export function captionWarning(caption: string): string {
  if (caption.trim() === '')
    return 'No caption: the model learns this image unconditioned. Add the new word to teach it.';
  return '';
}
