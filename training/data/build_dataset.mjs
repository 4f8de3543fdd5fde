// Builds the packed text-to-image dataset (data/packed/) from the npm emoji and icon art packages (dataset v2).
// Stage 1 (here, Node): choose drawings and concepts, gather names/keywords, rasterise every SVG with resvg
//   (colour art: 128x128 RGBA, 112 px art with an 8 px margin; monochrome icons: 56x56 masks)
//   into data/packed/.stage/{stage.bin,stage.json}.
// Stage 2 (training/data/pack.py, Python): storage encoding (palette-reduced lossless WebP for colour art,
//   4-level masks), colour naming of every recolour variant, the final index.json + images.bin and the counts.
//   The pixel maths lives in Python only, in training/mmamba/data.py, so the loader and the captions agree.
// Concepts: every drawing gets a concept key by `conceptKey` (lowercase, hyphens/underscores -> spaces,
//   per-set style/variant suffixes and colour words removed, last word singular); emoji take their CLDR
//   label (emojibase) and icon names that mean the same thing merge into the emoji concept. Only concepts
//   with at least MIN_DRAWINGS drawings (over all sets) are kept. Brands/logos, flags and UI chrome are left out.
// Deterministic: no randomness here; every list is sorted. Usage:
//   node training/data/build_dataset.mjs [--small [--concepts a,b,c]] [--plan] [--out DIR] [--python PATH]
//   (--small: only SMALL_CONCEPTS, or the --concepts list; --plan: print the counts, render nothing)
//   node training/data/build_dataset.mjs --normalise SET NAME [SET NAME ...]   (prints JSON; for tests)
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

// The source sets. kind "colour": full-colour art (stored RGB, hue-rotated at training time);
// kind "mask": monochrome art (stored as a mask, painted into scenes at training time).
// variants: [suffix, style phrase, keep] per drawing-name suffix (first match wins; '' = no suffix);
// a suffix with keep=false is a near-duplicate weight/shape of the same drawing and is skipped.
// emoji: the set's names are emoji (matched to emojibase by chars.json or by name).
const SETS = [
  { set: 'noto', kind: 'colour', emoji: true, variants: [['', 'noto style', true]] },
  { set: 'noto-v1', kind: 'colour', emoji: true, variants: [['', 'noto style', true]] },
  { set: 'twemoji', kind: 'colour', emoji: true, variants: [['', 'twemoji style', true]] },
  { set: 'openmoji', kind: 'colour', emoji: true, variants: [['', 'openmoji style', true]] },
  { set: 'fluent-emoji-flat', kind: 'colour', emoji: true, variants: [['', 'flat style', true]] },
  { set: 'emojione', kind: 'colour', emoji: true, variants: [['', 'emojione style', true]] },
  { set: 'emojione-v1', kind: 'colour', emoji: true, variants: [['', 'emojione style', true]] },
  { set: 'fxemoji', kind: 'colour', emoji: true, variants: [['', 'fxemoji style', true]] },
  { set: 'streamline-emojis', kind: 'colour', emoji: true, variants: [['', 'streamline style', true]] },
  { set: 'fluent-emoji-high-contrast', kind: 'mask', emoji: true, variants: [['', 'monochrome emoji', true]] },
  { set: 'emojione-monotone', kind: 'mask', emoji: true, variants: [['', 'monochrome emoji', true]] },
  { set: 'flat-color-icons', kind: 'colour', variants: [['', 'color icon', true]] },
  {
    set: 'fluent-color',
    kind: 'colour',
    variants: [
      ['-48', 'color icon', true],
      ['-32', 'color icon', true],
      ['-28', 'color icon', true],
      ['-24', 'color icon', true],
      ['-20', 'color icon', true],
      ['-16', 'color icon', true],
    ],
  },
  {
    set: 'meteocons',
    kind: 'colour',
    variants: [
      ['-fill', 'color icon', true],
      ['', 'color icon', true],
    ],
  },
  { set: 'icon-park-twotone', kind: 'mask', variants: [['', 'two-tone icon', true]] },
  { set: 'game-icons', kind: 'mask', variants: [['', 'silhouette icon', true]] },
  {
    set: 'mdi',
    kind: 'mask',
    variants: [
      ['-outline', 'outline icon', true],
      ['', 'filled icon', true],
    ],
  },
  {
    set: 'material-symbols',
    kind: 'mask',
    variants: [
      ['-outline-rounded', '', false],
      ['-outline-sharp', '', false],
      ['-rounded', '', false],
      ['-sharp', '', false],
      ['-outline', 'outline icon', true],
      ['', 'filled icon', true],
    ],
  },
  {
    set: 'tabler',
    kind: 'mask',
    variants: [
      ['-filled', 'filled icon', true],
      ['', 'outline icon', true],
    ],
  },
  { set: 'lucide', kind: 'mask', variants: [['', 'outline icon', true]] },
  {
    set: 'ph',
    kind: 'mask',
    variants: [
      ['-thin', '', false],
      ['-light', '', false],
      ['-bold', '', false],
      ['-duotone', '', false],
      ['-fill', 'filled icon', true],
      ['', 'outline icon', true],
    ],
  },
  {
    set: 'carbon',
    kind: 'mask',
    variants: [
      ['-filled', 'filled icon', true],
      ['-outline', 'outline icon', true],
      ['', 'line icon', true],
    ],
  },
  { set: 'fa6-solid', kind: 'mask', variants: [['', 'filled icon', true]] },
  { set: 'fa6-regular', kind: 'mask', variants: [['', 'outline icon', true]] },
  {
    set: 'iconoir',
    kind: 'mask',
    variants: [
      ['-solid', 'filled icon', true],
      ['', 'outline icon', true],
    ],
  },
  {
    set: 'ri',
    kind: 'mask',
    variants: [
      ['-fill', 'filled icon', true],
      ['-line', 'outline icon', true],
      ['', 'outline icon', true],
    ],
  },
  {
    set: 'solar',
    kind: 'mask',
    variants: [
      ['-bold-duotone', '', false],
      ['-line-duotone', '', false],
      ['-broken', '', false],
      ['-outline', '', false],
      ['-bold', 'filled icon', true],
      ['-linear', 'outline icon', true],
      ['', 'outline icon', true],
    ],
  },
  {
    set: 'bi',
    kind: 'mask',
    variants: [
      ['-fill', 'filled icon', true],
      ['', 'outline icon', true],
    ],
  },
  {
    set: 'mingcute',
    kind: 'mask',
    variants: [
      ['-fill', 'filled icon', true],
      ['-line', 'outline icon', true],
    ],
  },
  {
    set: 'fluent',
    kind: 'mask',
    variants: [
      ['-24-filled', 'filled icon', true],
      ['-24-regular', 'outline icon', true],
      ['-filled', '', false],
      ['-regular', '', false],
      ['-light', '', false],
    ],
  },
  { set: 'hugeicons', kind: 'mask', variants: [['', 'outline icon', true]] },
  {
    set: 'healthicons',
    kind: 'mask',
    variants: [
      ['-negative', '', false],
      ['-24px', '', false],
      ['-outline', 'outline icon', true],
      ['', 'filled icon', true],
    ],
  },
  {
    set: 'ion',
    kind: 'mask',
    variants: [
      ['-sharp', '', false],
      ['-outline', 'outline icon', true],
      ['', 'filled icon', true],
    ],
  },
  { set: 'uil', kind: 'mask', variants: [['', 'outline icon', true]] },
  {
    set: 'streamline',
    kind: 'mask',
    variants: [
      ['-remix', '', false],
      ['-solid', 'filled icon', true],
      ['', 'outline icon', true],
    ],
  },
  {
    set: 'tdesign',
    kind: 'mask',
    variants: [
      ['-filled', 'filled icon', true],
      ['', 'outline icon', true],
    ],
  },
  {
    set: 'streamline-color',
    kind: 'colour',
    variants: [
      ['-flat', 'flat color icon', true],
      ['', 'color icon', true],
    ],
  },
  {
    set: 'streamline-plump',
    kind: 'mask',
    variants: [
      ['-remix', '', false],
      ['-solid', 'filled icon', true],
      ['', 'outline icon', true],
    ],
  },
  {
    set: 'streamline-flex',
    kind: 'mask',
    variants: [
      ['-remix', '', false],
      ['-solid', 'filled icon', true],
      ['', 'outline icon', true],
    ],
  },
  {
    set: 'streamline-sharp',
    kind: 'mask',
    variants: [
      ['-remix', '', false],
      ['-solid', 'filled icon', true],
      ['', 'outline icon', true],
    ],
  },
  {
    set: 'streamline-ultimate',
    kind: 'mask',
    variants: [
      ['-bold', 'filled icon', true],
      ['', 'outline icon', true],
    ],
  },
  { set: 'streamline-freehand', kind: 'mask', variants: [['', 'hand-drawn icon', true]] },
];
// At most this many drawings of one concept from one set (the set's variants of one name count separately;
// near-duplicate weights are already left out by SETS.variants).
const MAX_PER_SET_CONCEPT = 3;
// Heads that are only a frame or a mark around something else: "account circle" does not become "circle".
const CONTAINER_HEADS = new Set([
  'circle',
  'square',
  'box',
  'badge',
  'outline',
  'variant',
  'frame',
  'shape',
  'sign',
  'symbol',
  'mark',
  'button',
  'tag',
  'card',
  'group',
  'set',
  'one',
  'side',
  'line',
  'area',
  'point',
  'view',
  'mode',
]);
// A concept is kept if it has MIN_DRAWINGS drawings over all sets, or drawings from MIN_SETS different sets
// (two independent artists drew it).
const MIN_DRAWINGS = 3;
const MIN_SETS = 2;
// emojibase groups kept: smileys, people/body (skin tones are separate entries and never used; families,
// couples and hair colours are dropped by label), animals/nature, food, travel, activities, objects, symbols. Component (2) and flags (9) are poor concepts.
const KEEP_GROUPS = new Set([0, 1, 3, 4, 5, 6, 7, 8]);
const PEOPLE_VARIANT = /\b(family|couple|kiss|holding hands)\b|hair\b/;
// Colour words never appear in a concept or keyword: colour is recomputed per image (recolouring).
const COLOUR_WORDS = new Set([
  'red',
  'orange',
  'yellow',
  'green',
  'blue',
  'purple',
  'brown',
  'black',
  'white',
  'pink',
  'gray',
  'grey',
  'cyan',
  'teal',
  'violet',
  'magenta',
  'golden',
  'gold',
  'silver',
  'colour',
  'color',
  'colored',
]);
// Keywords additionally avoid colour modifiers ("light" from "light blue heart").
const KEYWORD_STOP = new Set(['light', 'dark', 'bright', 'colour', 'color', 'ily', 'bestest']);
// Style words stripped from the end of a name ("heart-outline" -> "heart"; "-line" only when something is left).
const STYLE_SUFFIX = new Set([
  'outline',
  'outlined',
  'filled',
  'fill',
  'twotone',
  'line',
  'bold',
  'duotone',
  'solid',
  'regular',
  'sharp',
  'rounded',
  'linear',
  'variant',
  'alt',
  'one',
  'two',
  'three',
  'four',
  'five',
  'simple',
  'minimalistic',
  'minimal',
  'modern',
  'classic',
  'flip',
  'thick',
  'remix',
  'flat',
]);
// Words that only say what kind of picture it is ("emoji-surprise", "pig-icon"): dropped anywhere.
// ("md-", "ios-", and Material's legacy "local-", "directions-", "wb-" prefixes too: "local-pizza" is a pizza.)
const GENERIC_WORDS = new Set([
  'emoji',
  'emojis',
  'icon',
  'icons',
  'glyph',
  'pictogram',
  'circled',
  'md',
  'ios',
  'local',
  'directions',
  'wb',
]);
// Names that are UI chrome, typography or state modifiers rather than things (checked word by word).
const UI_WORDS = new Set([
  'arrow',
  'arrows',
  'chevron',
  'chevrons',
  'caret',
  'align',
  'alignment',
  'format',
  'letter',
  'alpha',
  'numeric',
  'number',
  'numbers',
  'sort',
  'sorting',
  'layout',
  'border',
  'borders',
  'dots',
  'ellipsis',
  'cursor',
  'indent',
  'outdent',
  'text',
  'font',
  'heading',
  'paragraph',
  'subscript',
  'superscript',
  'ascending',
  'descending',
  'sidebar',
  'panel',
  'toggle',
  'checkbox',
  'radiobox',
  'radio button',
  'textbox',
  'input',
  'placeholder',
  'spacing',
  'baseline',
  'kerning',
  'strikethrough',
  'underline',
  'italic',
  'uppercase',
  'lowercase',
  'pilcrow',
  'regex',
  'unfold',
  'fold',
  'collapse',
  'expand',
  'maximize',
  'minimize',
  'resize',
  'fullscreen',
  'login',
  'logout',
]);
// A last word that turns a thing into a UI state ("bell-off", "user-plus"): such names are left out.
const UI_LAST = new Set([
  'off',
  'slash',
  'slashed',
  'x',
  'xmark',
  'plus',
  'minus',
  'check',
  'checked',
  'cancel',
  'remove',
  'add',
  'edit',
  'alert',
  'question',
  'search',
  'sync',
  'lock',
  'unlock',
  'up',
  'down',
  'left',
  'right',
  'dashed',
  'horizontal',
  'vertical',
  'small',
  'multiple',
  'settings',
  'exclamation',
  'share',
  'refresh',
  'upload',
  'download',
  'import',
  'export',
  'next',
  'previous',
  'filter',
  'move',
  'swap',
  'in',
  'out',
  'to',
  'from',
  'reference',
  'usage',
  'definition',
]);
// Brand / logo names: icons named like these are left out of every set (brand/logo categories and
// name patterns are excluded too; a name that is also an emoji concept, e.g. "apple", is kept outside the
// brand categories). mdi, ri, carbon and icon-park brand categories add their names at load time.
const BRAND_NAMES = new Set([
  'chrome',
  'chromium',
  'figma',
  'codesandbox',
  'codepen',
  'framer',
  'slack',
  'trello',
  'twitch',
  'dribbble',
  'linkedin',
  'instagram',
  'youtube',
  'twitter',
  'facebook',
  'github',
  'gitlab',
  'bitbucket',
  'windows',
  'linux',
  'ubuntu',
  'android',
  'amazon',
  'paypal',
  'stripe',
  'mastercard',
  'bitcoin',
  'ethereum',
  'spotify',
  'discord',
  'telegram',
  'whatsapp',
  'snapchat',
  'tiktok',
  'pinterest',
  'reddit',
  'tumblr',
  'playstation',
  'xbox',
  'nintendo',
  'google',
  'microsoft',
  'npm',
  'docker',
  'javascript',
  'typescript',
  'vue',
  'angular',
  'html5',
  'css3',
  'wordpress',
  'drupal',
  'firefox',
  'skype',
  'dropbox',
  'evernote',
  'behance',
  'vk',
  'wechat',
  'weibo',
  'qq',
  'alipay',
  'kickstarter',
  'patreon',
  'etsy',
  'ebay',
  'airbnb',
  'uber',
  'lyft',
  'tesla',
  'ios',
  'macos',
  'mastodon',
  'bluesky',
  'openai',
  'notion',
  'vercel',
  'netlify',
  'ibm',
  'adobe',
  'photoshop',
  'illustrator',
  'jira',
  'confluence',
  'git',
  'unreal',
  'xing',
  'yahoo',
  'bing',
  'baidu',
  'tinder',
  'vimeo',
  'flickr',
  'soundcloud',
  'deezer',
  'shopify',
  'amd',
  'intel',
  'nvidia',
  'hp',
  'dell',
  'lenovo',
  'asus',
  'samsung',
  'huawei',
  'xiaomi',
  'bilibili',
  'douyin',
  'zhihu',
  'dingding',
  'dingtalk',
  'feishu',
  'taobao',
  'tmall',
  'jd',
  'mcdonalds',
  'starbucks',
  'lego',
  'pokemon',
  'pokeball',
  'star wars',
  'apple ios',
  'gmail',
  'outlook',
  'powerpoint',
  'onenote',
  'onedrive',
  'sharepoint',
  'azure',
  'aws',
  'gcp',
  'firebase',
  'vuejs',
  'nodejs',
  'golang',
  'kotlin',
  'php',
  'perl',
  'haskell',
  'elixir',
  'svelte',
  'tailwind',
  'bootstrap',
  'webpack',
  'vite',
  'pnpm',
  'gulp',
  'grunt',
  'babel',
]);
const BRAND_PATTERN = /(^|-)(logo|logos|brand|brands|trademark|copyleft)(-|$)|^brand-|^social-|^logo/;
const BRAND_CATEGORY = /brand|logo/i;
const SKIP_CATEGORY =
  /flag|modifier|alpha|numeric|arrow|text formatting|^text$|layout|editor|^form$|ui actions|android/i;
// Concepts that the small (test) build keeps; includes the product demo "red apple".
const SMALL_CONCEPTS = new Set([
  'apple',
  'heart',
  'dog face',
  'cat face',
  'rocket',
  'star',
  'house',
  'sun',
  'pizza',
  'tree',
  'car',
  'fish',
  'banana',
  'moon',
  'cloud',
  'bell',
]);
const MAX_KEYWORDS = 6;
// The demo / everyday concept names (one home: DEMO_CONCEPTS in training/mmamba/data.py): a merged concept
// whose drawings carry one of these names is called by it ("house" rather than the more frequent "home").
const DEMO_NAMES = (() => {
  const src = fs.readFileSync(path.join(ROOT, 'training', 'mmamba', 'data.py'), 'utf8');
  const m = src.match(/DEMO_CONCEPTS = frozenset\(\s*\{([^}]*)\}\s*\)/);
  if (!m) throw new Error('DEMO_CONCEPTS not found in training/mmamba/data.py');
  return new Set([...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]));
})();
const ICON_SIZE = 56; // mask side in pixels; data.py composes masks into 128x128 scenes

const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

function normWords(s) {
  return s
    .toLowerCase()
    .replace(/[’']/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

// Irregular plurals and words whose final "s" is not a plural (they stay as they are).
const IRREGULAR = {
  mice: 'mouse',
  geese: 'goose',
  people: 'person',
  men: 'man',
  women: 'woman',
  children: 'child',
  feet: 'foot',
  teeth: 'tooth',
  leaves: 'leaf',
  knives: 'knife',
  wolves: 'wolf',
  loaves: 'loaf',
  dice: 'die',
  shelves: 'shelf',
  halves: 'half',
  calves: 'calf',
  scarves: 'scarf',
  wives: 'wife',
  lives: 'life',
  potatoes: 'potato',
  tomatoes: 'tomato',
  heroes: 'hero',
  cacti: 'cactus',
  fungi: 'fungus',
  oxen: 'ox',
};
const NOT_PLURAL =
  /(ss|us|is|ous|ics|ies)$|^(news|bus|gas|glasses|sunglasses|goggles|binoculars|scissors|pants|jeans|shorts|trousers|tongs|pliers|headphones|earphones|series|species|chess|lips|dice|mathematics|physics|ethics|clothes|overalls|stairs|pajamas|tweezers|measles|canvas|atlas|iris|bias|yes|this|its|has|was|plus|minus|lens|always|perhaps|sparkles|lungs|maracas|billiards|darts|bowls|mahjong|crossbones|sweats|fries|chopsticks|pliers|nachos)$/;

// Deterministic singular of one word ("berries" -> "berry", "boxes" -> "box", "cats" -> "cat").
function singular(w) {
  if (IRREGULAR[w]) return IRREGULAR[w];
  if (w.length <= 3 || (NOT_PLURAL.test(w) && !/ies$/.test(w))) return w;
  if (/ies$/.test(w)) return w.length > 4 ? `${w.slice(0, -3)}y` : w;
  if (/(xes|ches|shes|sses|zes)$/.test(w)) return w.slice(0, -2);
  if (/[^s]s$/.test(w)) return w.slice(0, -1);
  return w;
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

// Surface form of an icon name (the words people read): "heart-outline" -> "heart", "ice_cream" -> "ice cream".
// Returns '' when nothing is left. `name` has its set's variant suffix removed already.
function surfaceName(name) {
  const w = stripColours(name.replace(/[_-]+/g, ' '))
    .split(' ')
    .filter((x) => x && !GENERIC_WORDS.has(x));
  while (w.length && /^[0-9]+$/.test(w[w.length - 1])) w.pop(); // size or variant index: "heart-2"
  while (w.length > 1 && STYLE_SUFFIX.has(w[w.length - 1])) w.pop();
  return w.length === 1 && STYLE_SUFFIX.has(w[0]) ? '' : w.join(' ');
}

// Merge key of a concept surface form: the last word singular ("ice creams" -> "ice cream").
function conceptKey(surface) {
  const w = surface.split(' ').filter(Boolean);
  if (!w.length) return '';
  w[w.length - 1] = singular(w[w.length - 1]);
  return w.join(' ');
}

// Why a (non-emoji) icon name makes no concept, or '' if it does. `surface` from surfaceName.
// `emojiName`: the name is also an emoji concept ("apple"), so a brand of that name is only recognised
// by its pattern or category.
function rejectReason(surface, rawName, category, emojiName = false) {
  if (!surface) return 'empty';
  if (BRAND_PATTERN.test(rawName) || (category && BRAND_CATEGORY.test(category))) return 'brand';
  if (!emojiName && (BRAND_NAMES.has(surface) || surface.split(' ').some((x) => BRAND_NAMES.has(x)))) return 'brand';
  if (category && SKIP_CATEGORY.test(category)) return 'category';
  if (/[0-9]/.test(surface)) return 'digits';
  const w = surface.split(' ');
  if (w.some((x) => UI_WORDS.has(x)) || (w.length > 1 && UI_LAST.has(w[w.length - 1]))) return 'ui';
  if (w.length > 3 || surface.length > 24 || surface.length < 3) return 'shape';
  return '';
}

function cleanKeywords(raw, concept) {
  const cw = new Set(concept.split(' '));
  const seen = new Set();
  const out = [];
  for (const r of raw) {
    const k = normWords(r.replace(/_/g, ' '));
    if (!/^[a-z][a-z ]{1,17}$/.test(k) || seen.has(k) || k === concept || conceptKey(k) === conceptKey(concept))
      continue;
    const words = k.split(' ');
    if (words.some((x) => COLOUR_WORDS.has(x) || KEYWORD_STOP.has(x)) || words.every((x) => cw.has(x))) continue;
    if (BRAND_NAMES.has(k)) continue;
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
  const meta = fs.existsSync(path.join(dir, 'metadata.json')) ? readJson(path.join(dir, 'metadata.json')) : {};
  const category = new Map(); // icon name -> first category (sorted)
  for (const cat of Object.keys(meta.categories ?? {}).sort()) {
    for (const n of meta.categories[cat]) if (!category.has(n)) category.set(n, cat);
  }
  return {
    icons,
    chars,
    category,
    info: readJson(path.join(dir, 'info.json')),
    pkg: readJson(path.join(dir, 'package.json')),
  };
}

// Resolves an icon name (following plain aliases only) to {body, left, top, width, height}.
function resolveIcon(iconSet, name) {
  let n = name;
  for (let depth = 0; depth < 4; depth++) {
    const ic = iconSet.icons[n];
    if (ic) {
      return {
        body: ic.body,
        left: ic.left ?? iconSet.left ?? 0,
        top: ic.top ?? iconSet.top ?? 0,
        width: ic.width ?? iconSet.width ?? 16,
        height: ic.height ?? iconSet.height ?? 16,
      };
    }
    const al = iconSet.aliases?.[n];
    if (!al || Object.keys(al).some((k) => k !== 'parent')) return null; // skip transformed aliases
    n = al.parent;
  }
  return null;
}

function svgFor(ic, side, pad, colour) {
  const inner = side - 2 * pad;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${side}" height="${side}" viewBox="0 0 ${side} ${side}">` +
    `<svg x="${pad}" y="${pad}" width="${inner}" height="${inner}" viewBox="${ic.left} ${ic.top} ${ic.width} ${ic.height}"` +
    ` color="${colour}">${ic.body}</svg></svg>`
  );
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
    const r = spawnSync(
      process.execPath,
      [fileURLToPath(import.meta.url), '--render-worker', jobsPath, String(start), outPath],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    const buf = fs.readFileSync(outPath);
    let last = start - 1;
    for (let o = 0; o + 8 <= buf.length; ) {
      const i = buf.readUInt32LE(o),
        n = buf.readUInt32LE(o + 4);
      if (o + 8 + n > buf.length) break;
      pngs[i] = buf.subarray(o + 8, o + 8 + n);
      last = Math.max(last, i);
      o += 8 + n;
    }
    if (r.status === 0) break;
    skipped.push(`${jobs[last + 1].meta.set}:${jobs[last + 1].meta.name}`);
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

// ---- emoji table: emojibase (labels, groups, tags, shortcodes) + emojilib (keywords)
function loadEmoji() {
  const base = readJson(path.join(NM, 'emojibase-data', 'en', 'data.json'));
  const lib = readJson(path.join(NM, 'emojilib', 'dist', 'emoji-en-US.json'));
  const shortcodes = ['cldr', 'github', 'emojibase'].map((n) =>
    readJson(path.join(NM, 'emojibase-data', 'en', 'shortcodes', `${n}.json`)),
  );
  const byHex = new Map();
  const bySlug = new Map(); // name slug (hyphenated and compact) -> hex
  for (const e of base) {
    if (!KEEP_GROUPS.has(e.group) || /keycap|regional indicator|^flag/.test(e.label)) continue;
    if (e.group === 1 && PEOPLE_VARIANT.test(e.label)) continue;
    const surface = stripColours(e.label);
    if (!surface || /^[0-9 ]+$/.test(surface)) continue;
    const libKw = lib[e.emoji] ?? lib[e.emoji.replace(/\uFE0F/g, '')] ?? lib[`${e.emoji}\uFE0F`] ?? [];
    const hex = e.hexcode.toLowerCase();
    const codes = shortcodes.flatMap((s) => [].concat(s[e.hexcode] ?? []));
    byHex.set(hex, {
      hex,
      label: normWords(e.label),
      surface,
      key: conceptKey(surface),
      group: e.group,
      order: e.order ?? 0,
      raw: [...(e.tags ?? []), ...libKw.slice(1)],
      codes,
    });
    for (const s of [normWords(e.label), ...codes.map((c) => normWords(c.replace(/_/g, ' ')))]) {
      const slug = s.replace(/ /g, '-');
      if (!bySlug.has(slug)) bySlug.set(slug, hex);
      const compact = slug.replace(/-/g, '');
      if (!bySlug.has(compact)) bySlug.set(compact, hex);
    }
  }
  return { byHex, bySlug };
}

// Which emoji (hex) an emoji-set drawing shows, or null.
function emojiOf(_s, name, nameToHex, bySlug) {
  const h = nameToHex.get(name);
  if (h) return h.replace(/-fe0f/g, '');
  const slug = name.replace(/-[0-9]+$/, '');
  return bySlug.get(slug) ?? bySlug.get(slug.replace(/-/g, '')) ?? null;
}

// Drawings per concept: total, median, distribution, per set (printed before rendering; pack.py prints the
// final counts after duplicate removal).
function printCounts(conceptList, chosen) {
  const per = conceptList.map((c) => c.drawings).sort((a, b) => a - b);
  const median = per.length ? per[Math.floor((per.length - 1) / 2)] : 0;
  const bins = [
    [1, 2],
    [3, 4],
    [5, 9],
    [10, 19],
    [20, 49],
    [50, 1e9],
  ];
  const dist = bins
    .map(([a, b]) => `${a}${b > 1e8 ? '+' : `-${b}`}: ${per.filter((x) => x >= a && x <= b).length}`)
    .join(', ');
  const bySet = {};
  for (const c of chosen) bySet[c.set] = (bySet[c.set] ?? 0) + 1;
  console.log(
    `[data] plan: ${chosen.length} drawings, ${conceptList.length} concepts, median ${median} drawings/concept (${dist})`,
  );
  console.log(
    `[data] plan per set: ${Object.entries(bySet)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
}

const EXTRA_CATEGORY = {}; // (tests) no category lookup: brand categories are checked in the build only
export function normaliseForTest(pairs) {
  // [set, name] -> {surface, key, style, reason}; the same code path as the build (no emoji matching).
  return pairs.map(([set, name]) => {
    const cfg = SETS.find((c) => c.set === set) ?? { variants: [['', 'icon', true]] };
    const v = cfg.variants.find(([suf]) => suf === '' || name.endsWith(suf));
    if (!v?.[2]) return { set, name, surface: '', key: '', style: '', reason: 'variant' };
    const stem = v[0] ? name.slice(0, -v[0].length) : name;
    const surface = surfaceName(stem);
    return {
      set,
      name,
      surface,
      key: conceptKey(surface),
      style: v[1],
      reason: rejectReason(surface, name, EXTRA_CATEGORY[name] ?? ''),
    };
  });
}

function main() {
  const t0 = Date.now();
  fs.rmSync(STAGE, { recursive: true, force: true });
  fs.mkdirSync(STAGE, { recursive: true });
  const { byHex, bySlug } = loadEmoji();
  const emojiKeys = new Map(); // concept key -> emoji record (first by order)
  for (const e of [...byHex.values()].sort((a, b) => a.order - b.order || a.hex.localeCompare(b.hex))) {
    if (!emojiKeys.has(e.key)) emojiKeys.set(e.key, e);
  }
  // icon key -> emoji concept key, for icon names that are an emoji's shortcode ("house" is 🏠's; "home" is
  // the first emojilib keyword of exactly one emoji)
  const iconToEmoji = new Map();
  const kwOwners = new Map();
  for (const e of byHex.values()) {
    for (const c of e.codes) {
      const k = conceptKey(stripColours(c.replace(/_/g, ' ')));
      if (k && !emojiKeys.has(k) && !iconToEmoji.has(k)) iconToEmoji.set(k, e.key);
    }
    for (const kw of e.raw.slice(0, 3)) {
      const k = conceptKey(stripColours(kw.replace(/_/g, ' ')));
      if (!k || emojiKeys.has(k)) continue;
      if (!kwOwners.has(k)) kwOwners.set(k, new Set());
      kwOwners.get(k).add(e.key);
    }
  }
  for (const [k, owners] of [...kwOwners].sort())
    if (owners.size === 1 && !iconToEmoji.has(k)) iconToEmoji.set(k, [...owners][0]);

  // ---- candidates: one per drawing {set, name, kind, style, key, surface, aliases, emoji}
  const cands = [];
  const rejected = {};
  const sources = {};
  const loaded = new Map();
  // brand names from the sets' own brand categories
  for (const cfg of SETS) {
    const s = loadSet(cfg.set);
    loaded.set(cfg.set, s);
    for (const [n, cat] of s.category) {
      if (!BRAND_CATEGORY.test(cat)) continue;
      const v = cfg.variants.find(([suf]) => suf === '' || n.endsWith(suf));
      const surface = surfaceName(v?.[0] ? n.slice(0, -v[0].length) : n);
      if (surface && !emojiKeys.has(conceptKey(surface))) BRAND_NAMES.add(surface);
    }
  }
  for (const cfg of SETS) {
    const s = loaded.get(cfg.set);
    const nameToHex = new Map();
    for (const [hex, n] of Object.entries(s.chars)) if (!nameToHex.has(n)) nameToHex.set(n, hex.toLowerCase());
    const aliasesOf = new Map();
    for (const [a, al] of Object.entries(s.icons.aliases ?? {})) {
      if (Object.keys(al).some((k) => k !== 'parent')) continue;
      if (!aliasesOf.has(al.parent)) aliasesOf.set(al.parent, []);
      aliasesOf.get(al.parent).push(a);
    }
    const rej = (r) => {
      rejected[r] = (rejected[r] ?? 0) + 1;
    };
    let n = 0;
    for (const name of Object.keys(s.icons.icons).sort()) {
      const v = cfg.variants.find(([suf]) => suf === '' || name.endsWith(suf));
      if (!v?.[2]) {
        rej('variant');
        continue;
      }
      const stem = v[0] ? name.slice(0, -v[0].length) : name;
      const cat = s.category.get(name) ?? '';
      let key,
        surface,
        emoji = null;
      if (cfg.emoji) {
        if (/skin-tone|-tone[0-9]|^flag|^regional/.test(name) || /flag/i.test(cat)) {
          rej('emoji variant/flag');
          continue;
        }
        const hex = emojiOf(s, name, nameToHex, bySlug);
        const e = hex && (byHex.get(hex) ?? byHex.get(`${hex}-fe0f`));
        if (hex && !e) {
          rej('emoji group');
          continue;
        } // a known emoji outside the kept groups
        if (e) {
          emoji = e;
          key = e.key;
          surface = e.surface;
        }
      }
      if (!emoji) {
        surface = surfaceName(stem);
        const k0 = conceptKey(surface);
        const why = rejectReason(surface, name, cat, emojiKeys.has(k0));
        if (why) {
          rej(why);
          continue;
        }
        key = conceptKey(surface);
        if (!emojiKeys.has(key) && iconToEmoji.has(key)) key = iconToEmoji.get(key);
        if (emojiKeys.has(key) && BRAND_CATEGORY.test(cat)) {
          rej('brand');
          continue;
        }
      }
      const ic = resolveIcon(s.icons, name);
      if (!ic) {
        rej('unresolved');
        continue;
      }
      // the set's alias names are synonyms unless they are UI words or would be left out themselves
      const aliases = (aliasesOf.get(name) ?? [])
        .map((a) => surfaceName(a))
        .filter((a) => a && !rejectReason(a, a, '') && !a.split(' ').some((x) => UI_LAST.has(x) || UI_WORDS.has(x)));
      cands.push({
        set: cfg.set,
        name,
        kind: cfg.kind,
        style: v[1],
        key,
        surface,
        aliases,
        emoji,
        ic,
        rank: cfg.variants.indexOf(v),
      });
      n++;
    }
    sources[cfg.set] = {
      package: `@iconify-json/${cfg.set}`,
      version: s.pkg.version,
      name: s.info.name,
      author: s.info.author?.name,
      authorUrl: s.info.author?.url,
      license: s.info.license?.spdx,
      kind: cfg.kind,
      emoji: !!cfg.emoji,
      candidates: n,
    };
  }
  console.log(
    `[data] ${cands.length} candidate drawings; left out: ${JSON.stringify(rejected)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );

  // ---- at most MAX_PER_SET_CONCEPT drawings per (set, concept): plain names first, then by variant rank
  cands.sort(
    (a, b) =>
      a.set.localeCompare(b.set) ||
      a.key.localeCompare(b.key) ||
      (a.surface === a.key ? 0 : 1) - (b.surface === b.key ? 0 : 1) ||
      a.name.length - b.name.length ||
      a.rank - b.rank ||
      a.name.localeCompare(b.name),
  );
  const capPerSet = (list) => {
    const perSet = new Map();
    return list.filter((c) => {
      const k = `${c.set}\0${c.key}`;
      const m = perSet.get(k) ?? 0;
      perSet.set(k, m + 1);
      return m < MAX_PER_SET_CONCEPT;
    });
  };
  const countOf = (list) => {
    const n = new Map();
    for (const c of list) n.set(c.key, (n.get(c.key) ?? 0) + 1);
    return n;
  };
  // A rare compound name joins the concept of its head noun (the last word, or the last two) when that
  // concept is common: "sports car" -> car, "car battery" -> battery. The drawing keeps its own name as its
  // label, which captions may use instead of the concept (it is the more precise true name).
  const first = countOf(capPerSet(cands));
  for (const c of cands) {
    const w = c.key.split(' ');
    if (first.get(c.key) >= MIN_DRAWINGS || w.length < 2 || c.emoji) continue;
    for (const head of [w.slice(-2).join(' '), w[w.length - 1]]) {
      if (head !== c.key && !CONTAINER_HEADS.has(head) && head.length >= 3 && (first.get(head) ?? 0) >= MIN_DRAWINGS) {
        c.key = head;
        c.headMerged = true; // its name is its own label, not a synonym of the concept
        break;
      }
    }
  }
  cands.sort(
    (a, b) =>
      a.set.localeCompare(b.set) ||
      a.key.localeCompare(b.key) ||
      (a.surface === a.key ? 0 : 1) - (b.surface === b.key ? 0 : 1) ||
      a.name.length - b.name.length ||
      a.rank - b.rank ||
      a.name.localeCompare(b.name),
  );
  const kept = capPerSet(cands);
  const count = countOf(kept);
  if (args.includes('--plan')) {
    const hist = {};
    for (const v of count.values()) hist[Math.min(v, 12)] = (hist[Math.min(v, 12)] ?? 0) + 1;
    console.log(
      `[data] plan: ${cands.length} candidates, ${kept.length} after the per-set cap; concepts by drawings: ${JSON.stringify(hist)}`,
    );
    if (process.env.PLAN_DUMP)
      fs.writeFileSync(
        process.env.PLAN_DUMP,
        JSON.stringify(kept.map((c) => [c.set, c.name, c.key, count.get(c.key)])),
      );
  }
  const setsOf = new Map();
  for (const c of kept) setsOf.set(c.key, (setsOf.get(c.key) ?? new Set()).add(c.set));
  let chosen = kept.filter((c) => count.get(c.key) >= MIN_DRAWINGS || setsOf.get(c.key).size >= MIN_SETS);
  if (SMALL) {
    const want = opt('--concepts', null) ? new Set(opt('--concepts').split(',')) : SMALL_CONCEPTS;
    const small = new Set(chosen.filter((c) => want.has(c.key) || want.has(c.surface)).map((c) => c.key));
    chosen = chosen.filter((c) => small.has(c.key));
  }

  // ---- concept table: display name (emoji label, else the most common surface form), keywords, group
  const concepts = new Map();
  for (const c of chosen) {
    if (!concepts.has(c.key))
      concepts.set(c.key, { key: c.key, surfaces: new Map(), raw: [], group: -1, emoji: null, n: 0 });
    const k = concepts.get(c.key);
    k.n++;
    if (!c.headMerged) {
      k.surfaces.set(c.surface, (k.surfaces.get(c.surface) ?? 0) + 1);
      k.raw.push(...c.aliases);
    }
    if (c.emoji && (!k.emoji || c.emoji.order < k.emoji.order)) k.emoji = c.emoji;
  }
  const conceptList = [...concepts.values()]
    .sort((a, b) => a.key.localeCompare(b.key))
    .map((k) => {
      const e = k.emoji ?? emojiKeys.get(k.key);
      const surfaces = [...k.surfaces].sort(
        (a, b) => b[1] - a[1] || a[0].length - b[0].length || a[0].localeCompare(b[0]),
      );
      // the demo name if its drawings carry one, else the most common name ("car" over "automobile")
      const name = surfaces.find(([x]) => DEMO_NAMES.has(x))?.[0] ?? surfaces[0]?.[0] ?? k.key;
      // synonyms name the same thing (other sets' names, aliases, emoji shortcodes) and may replace the
      // concept in a caption; keywords (emoji tags) are associations, only ever added after it.
      const syn = [
        ...surfaces.map(([s]) => s),
        ...(e ? e.codes.map((x) => stripColours(x.replace(/_/g, ' '))) : []),
        ...[...new Set(k.raw)].sort(),
      ];
      const synonyms = cleanKeywords(e ? [e.surface, ...syn] : syn, name);
      const keywords = e ? cleanKeywords(e.raw, name).filter((x) => !synonyms.includes(x)) : [];
      return { name, key: k.key, synonyms, keywords, group: e ? e.group : -1, drawings: k.n };
    });
  printCounts(conceptList, chosen);
  if (args.includes('--plan')) return;
  const conceptIndex = new Map(conceptList.map((c, i) => [c.key, i]));

  // ---- render
  const jobs = chosen.map((c) => ({
    meta: c,
    svg: svgFor(c.ic, c.kind === 'colour' ? 128 : ICON_SIZE, c.kind === 'colour' ? 8 : 0, 'black'),
    side: c.kind === 'colour' ? 128 : ICON_SIZE,
  }));
  console.log(
    `[data] rendering ${jobs.length} drawings of ${conceptList.length} concepts (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const pngs = renderAll(jobs, t0);
  const items = [];
  const blobs = [];
  let offset = 0;
  jobs.forEach((job, i) => {
    if (!pngs[i]) return; // resvg crashed on this SVG: skipped
    const c = job.meta;
    items.push({
      kind: c.kind === 'colour' ? 'emoji' : 'icon',
      set: c.set,
      style: c.style,
      name: c.name,
      label: c.surface,
      concept: conceptIndex.get(c.key),
      offset,
      length: pngs[i].length,
    });
    blobs.push(pngs[i]);
    offset += pngs[i].length;
  });
  fs.writeFileSync(path.join(STAGE, 'stage.bin'), Buffer.concat(blobs));
  fs.writeFileSync(
    path.join(STAGE, 'stage.json'),
    JSON.stringify({
      small: SMALL,
      iconSize: ICON_SIZE,
      sources,
      concepts: conceptList.map(({ name, synonyms, keywords, group }) => ({ name, synonyms, keywords, group })),
      items,
    }),
  );
  console.log(
    `[data] staged ${items.length} images, ${(offset / 1e6).toFixed(1)} MB of PNG (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );

  // ---- stage 2: Python packer
  const py = opt(
    '--python',
    process.env.PYTHON ??
      (fs.existsSync(path.join(ROOT, 'training', '.venv', 'bin', 'python'))
        ? path.join(ROOT, 'training', '.venv', 'bin', 'python')
        : 'python3'),
  );
  const r = spawnSync(py, [path.join(ROOT, 'training', 'data', 'pack.py'), STAGE, OUT], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`[data] pack.py failed (${r.status ?? r.error})`);
    process.exit(1);
  }
  fs.rmSync(STAGE, { recursive: true, force: true });
  console.log(`[data] done in ${((Date.now() - t0) / 1000).toFixed(1)} s -> ${OUT}`);
}

if (args[0] === '--render-worker') renderWorker(args[1], Number(args[2]), args[3]);
else if (args[0] === '--normalise') {
  const pairs = [];
  for (let i = 1; i + 1 < args.length; i += 2) pairs.push([args[i], args[i + 1]]);
  console.log(JSON.stringify(normaliseForTest(pairs)));
} else main();
