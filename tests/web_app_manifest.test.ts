// The installable app's files: public/manifest.webmanifest has what an install needs (name, start_url, display
// standalone, theme colour, a 192 and a 512 icon), every file it and index.html name exists in public/, and the
// offline seeding list (INSTALL_FILES in src/offline.ts) holds them all, so they are cached. No browser.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { INSTALL_FILES } from '../src/offline';

const manifest = JSON.parse(readFileSync('public/manifest.webmanifest', 'utf8')) as {
  name: string;
  short_name: string;
  start_url: string;
  display: string;
  theme_color: string;
  icons: { src: string; sizes: string; type: string }[];
};

describe('web-app manifest', () => {
  it('has what an install needs', () => {
    expect(manifest.name).toMatch(/M-Mamba/);
    expect(manifest.short_name.length).toBeLessThanOrEqual(12);
    expect(manifest.start_url).toBe('./');
    expect(manifest.display).toBe('standalone');
    expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/);
    expect(manifest.icons.map((i) => i.sizes)).toEqual(expect.arrayContaining(['192x192', '512x512']));
  });

  it('names files that exist, and the offline seeding caches them', () => {
    const html = readFileSync('index.html', 'utf8');
    const linked = [...html.matchAll(/<link rel="(?:icon|manifest|apple-touch-icon)" href="\/([^"]+)"/g)].map(
      (m) => m[1]!,
    );
    expect(linked.sort()).toEqual(['favicon.svg', 'icons/icon-192.png', 'manifest.webmanifest']);
    for (const f of [...linked, ...manifest.icons.map((i) => i.src)]) {
      expect(existsSync(`public/${f}`), f).toBe(true);
      expect(INSTALL_FILES, f).toContain(f);
    }
    const png = readFileSync('public/icons/icon-512.png');
    expect(png.readUInt32BE(16)).toBe(512); // IHDR width
  });
});
