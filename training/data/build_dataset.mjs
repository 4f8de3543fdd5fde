// Builds the packed text-to-image dataset (data/packed/) from the npm emoji and icon art packages.
// Stage 1 (here, Node): choose concepts, gather names/keywords, rasterise every SVG with resvg
//   (emoji: 128x128 RGBA, 112 px art with an 8 px margin; line icons: 56x56 black-on-transparent masks)
//   into data/packed/.stage/{stage.bin,stage.json}.
// Stage 2 (training/data/pack.py, Python): lossless WebP encoding, colour naming of every recolour
//   variant, and the final index.json + images.bin. The pixel maths lives in Python only, in
//   training/mmamba/data.py, so the loader and the captions can never disagree.
// Deterministic: no randomness here; every list is sorted. Usage:
//   node training/data/build_dataset.mjs [--small] [--out DIR] [--python PATH]
import { Resvg } from '@resvg/resvg-js';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NM = path.join(ROOT, 'node_modules');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const SMALL = args.includes('--small');
const OUT = path.resolve(opt('--out', path.join(ROOT, 'data', 'packed')));
const STAGE = path.join(OUT, '.stage');

// Emoji art sets (full colour) and line-icon sets, with the style phrase used in captions.
const EMOJI_SETS = [
  { set: 'noto', style: 'noto style' },
  { set: 'twemoji', style: 'twemoji style' },
  { set: 'fluent-emoji-flat', style: 'flat style' },
  { set: 'openmoji', style: 'openmoji style' },
];
const ICON_SETS = [
  { set: 'tabler', style: 'outline icon' },
  { set: 'ph', style: 'filled icon' },
];
// emojibase groups kept: smileys, animals/nature, food, travel, activities, objects, symbols
// (people/body is mostly gender/skin variants, component and flags are poor concepts).
const KEEP_GROUPS = new Set([0, 3, 4, 5, 6, 7, 8]);
// Colour words never appear in a concept or keyword: colour is recomputed per image (recolouring).
const COLOUR_WORDS = new Set(['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'brown', 'black', 'white',
  'pink', 'gray', 'grey', 'cyan', 'teal', 'violet', 'magenta', 'golden', 'gold', 'silver', 'colour', 'color']);
// Keywords additionally avoid colour modifiers ("light" from "light blue heart").
const KEYWORD_STOP = new Set(['light', 'dark', 'bright', 'colour', 'color', 'ily', 'bestest']);
// Concepts that the small (test) build keeps; includes the product demo "red apple".
const SMALL_CONCEPTS = new Set(['apple', 'heart', 'dog face', 'cat face', 'rocket', 'star', 'house', 'sun',
  'pizza', 'tree', 'car', 'fish', 'banana', 'moon', 'cloud', 'bell']);
const MAX_KEYWORDS = 4;
const ICON_SIZE = 56; // mask side in pixels; data.py composes masks into 128x128 scenes

const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

function normWords(s) {
  return s.toLowerCase().replace(/[’']/g, '').replace(/[^a-z0-9]+/g, ' ').trim();
}

// "light blue heart" -> "heart"; "red apple" -> "apple". Empty result means: no concept.
function stripColours(label) {
  const w = normWords(label).split(' ').filter(Boolean);
  const out = [];
  for (let i = 0; i < w.length; i++) {
    if (COLOUR_WORDS.has(w[i])) continue;
    if ((w[i] === 'light' || w[i] === 'dark') && i + 1 < w.length && COLOUR_WORDS.has(w[i + 1])) continue;
    out.push(w[i]);
  }
  return out.join(' ');
}

function cleanKeywords(raw, concept) {
  const cw = new Set(concept.split(' '));
  const seen = new Set();
  const out = [];
  for (const r of raw) {
    const k = normWords(r.replace(/_/g, ' '));
    if (!/^[a-z][a-z ]{1,13}$/.test(k) || seen.has(k) || k === concept) continue;
    const words = k.split(' ');
    if (words.some((x) => COLOUR_WORDS.has(x) || KEYWORD_STOP.has(x)) || words.every((x) => cw.has(x))) continue;
    seen.add(k);
    out.push(k);
    if (out.length >= MAX_KEYWORDS) break;
  }
  return out;
}

function loadSet(set) {
  const dir = path.join(NM, '@iconify-json', set);
  const icons = readJson(path.join(dir, 'icons.json'));
  const chars = fs.existsSync(path.join(dir, 'chars.json')) ? readJson(path.join(dir, 'chars.json')) : {};
  return { icons, chars, info: readJson(path.join(dir, 'info.json')) };
}

// Resolves an icon name (following plain aliases only) to {body, left, top, width, height}.
function resolveIcon(iconSet, name) {
  let n = name;
  for (let depth = 0; depth < 4; depth++) {
    const ic = iconSet.icons[n];
    if (ic) {
      return { body: ic.body, left: ic.left ?? iconSet.left ?? 0, top: ic.top ?? iconSet.top ?? 0,
        width: ic.width ?? iconSet.width ?? 16, height: ic.height ?? iconSet.height ?? 16 };
    }
    const al = iconSet.aliases?.[n];
    if (!al || Object.keys(al).some((k) => k !== 'parent')) return null; // skip transformed aliases
    n = al.parent;
  }
  return null;
}

function svgFor(ic, side, pad, colour) {
  const inner = side - 2 * pad;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}" viewBox="0 0 ${side} ${side}">` +
    `<svg x="${pad}" y="${pad}" width="${inner}" height="${inner}" viewBox="${ic.left} ${ic.top} ${ic.width} ${ic.height}"` +
    ` color="${colour}">${ic.body}</svg></svg>`;
}

function render(svg, side) {
  const r = new Resvg(svg, { fitTo: { mode: 'width', value: side }, font: { loadSystemFonts: false } });
  return r.render().asPng(); // RGBA, transparent background
}

// resvg aborts the whole process on a few SVGs (e.g. an off-canvas group with opacity), so rendering
// runs in child processes that append [u32 index][u32 length][png] records to a file; when a child dies,
// the job after its last record is skipped and a new child resumes behind it. Returns PNG|null per job.
function renderAll(jobs, t0) {
  const jobsPath = path.join(STAGE, 'jobs.json');
  const outPath = path.join(STAGE, 'renders.bin');
  fs.writeFileSync(jobsPath, JSON.stringify(jobs.map((j) => [j.svg, j.side])));
  fs.writeFileSync(outPath, Buffer.alloc(0));
  const pngs = new Array(jobs.length).fill(null);
  let start = 0;
  const skipped = [];
  while (start < jobs.length) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--render-worker', jobsPath, String(start), outPath],
      { stdio: ['ignore', 'ignore', 'ignore'] });
    const buf = fs.readFileSync(outPath);
    let last = start - 1;
    for (let o = 0; o + 8 <= buf.length;) {
      const i = buf.readUInt32LE(o), n = buf.readUInt32LE(o + 4);
      if (o + 8 + n > buf.length) break;
      pngs[i] = buf.subarray(o + 8, o + 8 + n);
      last = Math.max(last, i);
      o += 8 + n;
    }
    if (r.status === 0) break;
    skipped.push(jobs[last + 1].meta.set + ':' + jobs[last + 1].meta.name);
    start = last + 2;
  }
  if (skipped.length) console.log(`[data] resvg crashed on ${skipped.length} SVGs, skipped: ${skipped.join(', ')}`);
  console.log(`[data] rendered ${pngs.filter(Boolean).length} images (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return pngs;
}

function renderWorker(jobsPath, start, outPath) {
  const jobs = JSON.parse(fs.readFileSync(jobsPath, 'utf8'));
  const fd = fs.openSync(outPath, 'a');
  for (let i = start; i < jobs.length; i++) {
    const png = render(jobs[i][0], jobs[i][1]);
    const head = Buffer.alloc(8);
    head.writeUInt32LE(i, 0);
    head.writeUInt32LE(png.length, 4);
    fs.writeSync(fd, Buffer.concat([head, png]));
  }
  fs.closeSync(fd);
}

function main() {
  const t0 = Date.now();
  fs.rmSync(STAGE, { recursive: true, force: true });
  fs.mkdirSync(STAGE, { recursive: true });

  // ---- emoji concepts from emojibase (labels, tags, groups) + emojilib (keywords)
  const base = readJson(path.join(NM, 'emojibase-data', 'en', 'data.json'));
  const lib = readJson(path.join(NM, 'emojilib', 'dist', 'emoji-en-US.json'));
  const emojis = [];
  for (const e of base) {
    if (!KEEP_GROUPS.has(e.group) || /keycap|regional indicator/.test(e.label)) continue;
    const concept = stripColours(e.label);
    if (!concept || /^[0-9 ]+$/.test(concept)) continue;
    if (SMALL && !SMALL_CONCEPTS.has(concept)) continue;
    const libKw = lib[e.emoji] ?? lib[e.emoji.replace(/\uFE0F/g, '')] ?? lib[e.emoji + '\uFE0F'] ?? [];
    const keywords = cleanKeywords([...(e.tags ?? []), ...libKw.slice(1)], concept);
    const hex = e.hexcode.toLowerCase();
    emojis.push({ hex, label: normWords(e.label), concept, keywords, group: e.group, order: e.order ?? 0 });
  }
  emojis.sort((a, b) => a.order - b.order || a.hex.localeCompare(b.hex));

  const jobs = []; // {meta, svg, side}; rendered later in crash-isolated child processes
  const push = (meta, svg, side) => jobs.push({ meta, svg, side });

  const emojiConcepts = new Set();
  for (const { set, style } of EMOJI_SETS) {
    const s = loadSet(set);
    let n = 0;
    for (const e of emojis) {
      const name = s.chars[e.hex] ?? s.chars[e.hex.replace(/-fe0f/g, '')];
      const ic = name && resolveIcon(s.icons, name);
      if (!ic) continue;
      push({ kind: 'emoji', set, style, name, label: e.label, concept: e.concept, keywords: e.keywords,
        group: e.group }, svgFor(ic, 128, 8, 'black'), 128);
      emojiConcepts.add(e.concept);
      n++;
    }
    console.log(`[data] ${set}: ${n} emoji selected (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }

  // ---- line icons: single-word names, or names that match an emoji concept (shared vocabulary)
  for (const { set, style } of ICON_SETS) {
    const s = loadSet(set);
    const names = Object.keys(s.icons.icons).sort();
    let n = 0;
    for (const name of names) {
      let baseName;
      if (set === 'ph') {
        if (!name.endsWith('-fill')) continue;
        baseName = name.slice(0, -5);
      } else {
        if (/-(filled|off)$/.test(name)) continue;
        baseName = name;
      }
      if (/[0-9]|^brand-|logo/.test(baseName)) continue;
      const concept = stripColours(baseName.replace(/-/g, ' '));
      if (!concept || concept !== baseName.replace(/-/g, ' ')) continue;
      const single = !concept.includes(' ') && concept.length >= 3;
      if (!(single || emojiConcepts.has(concept))) continue;
      if (SMALL && !SMALL_CONCEPTS.has(concept)) continue;
      const ic = resolveIcon(s.icons, name);
      if (!ic) continue;
      push({ kind: 'icon', set, style, name, label: concept, concept, keywords: [], group: -1 },
        svgFor(ic, ICON_SIZE, 0, 'black'), ICON_SIZE);
      n++;
    }
    console.log(`[data] ${set}: ${n} icons selected (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }

  const pngs = renderAll(jobs, t0);
  const items = [];
  const blobs = [];
  let offset = 0;
  jobs.forEach((job, i) => {
    if (!pngs[i]) return; // resvg crashed on this SVG: skipped
    items.push({ ...job.meta, offset, length: pngs[i].length });
    blobs.push(pngs[i]);
    offset += pngs[i].length;
  });

  // Icons borrow keywords from the emoji of the same concept (if any).
  const kwByConcept = new Map();
  for (const it of items) if (it.kind === 'emoji' && !kwByConcept.has(it.concept)) kwByConcept.set(it.concept, it.keywords);
  for (const it of items) if (it.kind === 'icon') it.keywords = kwByConcept.get(it.concept) ?? [];

  const sources = {};
  for (const { set } of [...EMOJI_SETS, ...ICON_SETS]) {
    const info = readJson(path.join(NM, '@iconify-json', set, 'info.json'));
    const pkg = readJson(path.join(NM, '@iconify-json', set, 'package.json'));
    sources[set] = { package: `@iconify-json/${set}`, version: pkg.version, name: info.name,
      author: info.author?.name, license: info.license?.spdx };
  }
  fs.writeFileSync(path.join(STAGE, 'stage.bin'), Buffer.concat(blobs));
  fs.writeFileSync(path.join(STAGE, 'stage.json'), JSON.stringify({ small: SMALL, iconSize: ICON_SIZE, sources, items }));
  console.log(`[data] staged ${items.length} images, ${(offset / 1e6).toFixed(1)} MB of PNG (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  // ---- stage 2: Python packer
  const py = opt('--python', process.env.PYTHON ??
    (fs.existsSync(path.join(ROOT, 'training', '.venv', 'bin', 'python')) ? path.join(ROOT, 'training', '.venv', 'bin', 'python') : 'python3'));
  const r = spawnSync(py, [path.join(ROOT, 'training', 'data', 'pack.py'), STAGE, OUT], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`[data] pack.py failed (${r.status ?? r.error})`);
    process.exit(1);
  }
  fs.rmSync(STAGE, { recursive: true, force: true });
  console.log(`[data] done in ${((Date.now() - t0) / 1000).toFixed(1)} s -> ${OUT}`);
}

if (args[0] === '--render-worker') renderWorker(args[1], Number(args[2]), args[3]);
else main();
