// Shared by the browser tests that run on the TINY model set (e2e/fixtures/models, written by
// training/make_e2e_tiny.py: a 32×32 VQ with 4×4 tokens and a matching tiny M-Mamba): serving it in place of the
// shipped models, muting the dev server's hot reload, and a minimal PNG encoder for test pictures.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import type { BrowserContext } from '@playwright/test';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'models');

/** Serves the tiny models for every /models/ request of the page and its worker; nothing else is reachable. */
export async function serveTinyModels(context: BrowserContext): Promise<string[]> {
  const seen: string[] = [];
  await context.route(/\/models\/.*/, async (route) => {
    const path = decodeURIComponent(new URL(route.request().url()).pathname.replace(/^\/models\//, ''));
    seen.push(path);
    const file = join(FIXTURES, path);
    if (path.includes('..') || !existsSync(file))
      return route.fulfill({ status: 404, body: 'not in the e2e fixtures' });
    return route.fulfill({
      status: 200,
      contentType: path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      body: readFileSync(file),
    });
  });
  return seen;
}

// ---- a minimal PNG encoder (RGB, no filter), so the test makes its own pictures ----------------------------
const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
export function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
export function png(size: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const raw = Buffer.alloc(size * (size * 3 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 3 + 1)] = 0;
    for (let x = 0; x < size; x++) raw.set(pixel(x, y), y * (size * 3 + 1) + 1 + x * 3);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
/** Mutes the dev server's hot-reload socket: other work in this checkout must not reload the page mid-run. */
export async function muteHotReload(context: BrowserContext): Promise<void> {
  await context.routeWebSocket(/./, () => {
    /* mocked: open, never connected to the server, never told to reload */
  });
}
