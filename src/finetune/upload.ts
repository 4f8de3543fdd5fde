// Upload logic for fine-tuning, DOM-free (runs on the main thread, in the worker and in Node tests):
// which dropped files are images (by their magic bytes, never by name or MIME type alone), which are caption
// files, and which caption goes with which image.
//
// Caption files dropped beside the images:
//   .txt   one caption per line, either `filename: caption` (matched by name, case-insensitive, with or
//          without the extension) or plain lines given to the images in the order they were dropped
//   .json  {"filename": "caption", ...}
// A caption typed into an image's own field always wins over one from a file.
// Invariant: nothing here throws on bad input; every file gets a verdict with a reason a person can act on.

export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** Largest image file accepted (a phone photo is 3–12 MB). */
export const MAX_IMAGE_BYTES = 25 * 1024 * 1024;
/** Most pairs one dataset may hold (the design targets 8–32; a little headroom). */
export const MAX_PAIRS = 64;
/** Longest caption kept, in characters (the tokenizer keeps far fewer tokens anyway). */
export const MAX_CAPTION_CHARS = 200;

/** The image format by its first bytes, or null. PNG: 89 50 4E 47 0D 0A 1A 0A; JPEG: FF D8 FF;
 *  WebP: "RIFF" ???? "WEBP". */
export function sniffImageFormat(head: Uint8Array): ImageFormat | null {
  const b = head;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a)
    return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50)
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
  if (/\.svg$/i.test(name) || ascii.trimStart().startsWith('<')) return 'SVG/text is not supported; use PNG, JPEG or WebP';
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
  byName: Map<string, string>;
  ordered: string[];
  /** Lines or entries that could not be used, with why (shown, never fatal). */
  problems: string[];
}

export function cleanCaption(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return Array.from(one).slice(0, MAX_CAPTION_CHARS).join('');
}

/** Parses a caption file. A JSON file must be an object of strings; a .txt file is read line by line. */
export function parseCaptionFile(fileName: string, text: string): CaptionSource {
  const out: CaptionSource = { byName: new Map(), ordered: [], problems: [] };
  const body = text.replace(/^\uFEFF/, '');
  if (/\.json$/i.test(fileName)) {
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch (e) {
      out.problems.push(`${fileName}: not valid JSON (${e instanceof Error ? e.message : String(e)}); expected {"image.png": "caption"}`);
      return out;
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      out.problems.push(`${fileName}: expected an object like {"image.png": "caption"}`);
      return out;
    }
    for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
      if (typeof v !== 'string') out.problems.push(`${fileName}: the caption of "${k}" is not text`);
      else out.byName.set(baseName(k).full, cleanCaption(v));
    }
    return out;
  }
  const lines = body.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  // `name.ext: caption` (or `name.ext<TAB>caption`) where name.ext looks like a file name.
  const named = /^([^:\t]+?\.[a-z0-9]{2,5})\s*[:\t]\s*(.*)$/i;
  for (const line of lines) {
    const m = named.exec(line);
    if (m) out.byName.set(baseName(m[1]!).full, cleanCaption(m[2]!));
    else out.ordered.push(cleanCaption(line));
  }
  return out;
}

/** Captions for `imageNames` (in drop order): by full name, then by name without extension, then the
 *  ordered lines in turn. '' where nothing matched. */
export function assignCaptions(imageNames: string[], sources: CaptionSource[]): string[] {
  const byName = new Map<string, string>();
  const byStem = new Map<string, string>();
  const ordered: string[] = [];
  for (const s of sources) {
    for (const [k, v] of s.byName) {
      byName.set(k, v);
      byStem.set(baseName(k).stem, v);
    }
    ordered.push(...s.ordered);
  }
  let next = 0;
  return imageNames.map((n) => {
    const { full, stem } = baseName(n);
    const hit = byName.get(full) ?? byStem.get(stem);
    if (hit !== undefined) return hit;
    return next < ordered.length ? ordered[next++]! : '';
  });
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
    if (size > MAX_IMAGE_BYTES) return { kind: 'rejected', reason: `the image is ${(size / 1048576).toFixed(1)} MB; the limit is ${MAX_IMAGE_BYTES / 1048576} MB` };
    return { kind: 'image', format };
  }
  if (isCaptionFileName(name)) {
    if (size > 1024 * 1024) return { kind: 'rejected', reason: 'a caption file over 1 MB is not read' };
    return { kind: 'captions' };
  }
  return { kind: 'rejected', reason: describeNonImage(name, head) };
}

/** Why a pair cannot be used as is ('' when fine). An empty caption is allowed but warned about. */
export function captionWarning(caption: string): string {
  if (caption.trim() === '') return 'No caption: the model learns this image unconditioned. Add the new word to teach it.';
  return '';
}
