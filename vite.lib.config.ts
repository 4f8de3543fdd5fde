// Library build (`npm run build:lib`): src/index.ts as one self-contained ES module in dist-lib/, comlink and
// idb-keyval bundled in, the WGSL shaders inlined as strings (Vite's own `?raw`), so a page can import it with no
// bundler and a bundler needs no WGSL setup. Independent of the app's vite.config.ts (no dev server, no CSP
// plugin, no public/). Not minified: the consumer's bundler minifies. Type declarations come from
// `tsc -p tsconfig.lib.json` (dist-lib/types/).
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

export default defineConfig({
  publicDir: false,
  build: {
    outDir: 'dist-lib',
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    sourcemap: true,
    lib: { entry: resolve(__dirname, 'src/index.ts'), formats: ['es'], fileName: () => 'mmamba-web.js' },
  },
});
