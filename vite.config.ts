// Vite (dev server + build) and Vitest config.
// - Workers are ES modules (the engine worker is created with `{ type: 'module' }`).
// - Security: one Content-Security-Policy (CSP below) goes into every served page as a <meta> tag, and with
//   X-Content-Type-Options: nosniff (and the rest of SECURITY_HEADERS) into the dev and preview servers' response
//   headers and a `_headers` file in the build for static hosts that read one (Netlify, Cloudflare Pages).
//   The dev server serves only what the app is made of (APP_PATHS: index.html, src/, shaders/, public/, Vite's own
//   paths and dependencies), never the rest of the repository (package.json, training/, tests/, .git, …), even
//   when bound to 0.0.0.0. docs/reliability.md (SECURITY) explains each directive.
// - Vitest runs the kernel tests in Node on Dawn (npm `webgpu`); on CPU-only machines Dawn
//   sits on SwiftShader, which is slow, hence the generous timeout and one fork at a time
//   (each fork owns one Dawn instance; two would only fight over the 2 cores).
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

/** The app's Content-Security-Policy: its own origin only; no inline or eval'd script; no plugins, frames or
 *  forms; images also from blob: (upload thumbnails) and data:. Inline styles are allowed (Lit and the page shell
 *  use them; a style cannot run code). */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Response headers of every server that runs this config (frame-ancestors works only as a header). */
export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': `${CSP}; frame-ancestors 'none'`,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

const ROOT = __dirname;
/** First path segments the dev server answers; anything else under the repository is a 404. */
const APP_PATHS = new Set([
  '',
  'index.html',
  'src',
  'shaders',
  'node_modules',
  '@vite',
  '@id',
  '@fs',
  '__vite_ping',
  ...readdirSync(resolve(ROOT, 'public')),
]);

function security(): Plugin {
  return {
    name: 'mm-security',
    transformIndexHtml: {
      order: 'pre',
      handler: () => [
        { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CSP }, injectTo: 'head-prepend' },
      ],
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
        const first = path.split('/')[1] ?? '';
        // Dot-paths (.git, .env, …) never, except Vite's pre-bundled dependencies (/node_modules/.vite/…).
        const segs = path.split('/');
        const hidden = segs.some(
          (seg, i) => seg.startsWith('.') && !(i === 2 && seg === '.vite' && segs[1] === 'node_modules'),
        );
        if (APP_PATHS.has(first) && !hidden) return next();
        res.statusCode = 404;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end('Not part of the app.\n');
      });
    },
    generateBundle() {
      const lines = ['/*', ...Object.entries(SECURITY_HEADERS).map(([k, v]) => `  ${k}: ${v}`)];
      this.emitFile({ type: 'asset', fileName: '_headers', source: `${lines.join('\n')}\n` });
    },
  };
}

export default defineConfig({
  plugins: [security()],
  server: {
    host: '127.0.0.1',
    port: 5173,
    headers: SECURITY_HEADERS,
    fs: {
      strict: true,
      allow: [
        resolve(ROOT, 'src'),
        resolve(ROOT, 'shaders'),
        resolve(ROOT, 'public'),
        resolve(ROOT, 'node_modules'),
        resolve(ROOT, 'index.html'),
      ],
    },
  },
  preview: {
    headers: SECURITY_HEADERS,
  },
  worker: {
    format: 'es',
  },
  build: {
    target: 'es2022',
  },
  test: {
    environment: 'node',
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
  },
});
