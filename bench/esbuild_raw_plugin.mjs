// esbuild plugin for Vite-style raw imports: `import src from '../../shaders/x.wgsl?raw'` resolves to the file
// without the `?raw` suffix and loads it as a text string, so engine modules bundle for Node unchanged.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** @returns {import('esbuild').Plugin} */
export function rawPlugin() {
  return {
    name: 'raw-text',
    setup(build) {
      build.onResolve({ filter: /\?raw$/ }, (args) => ({
        path: path.resolve(args.resolveDir, args.path.slice(0, -'?raw'.length)),
        namespace: 'raw-text',
      }));
      build.onLoad({ filter: /.*/, namespace: 'raw-text' }, async (args) => ({
        contents: await readFile(args.path, 'utf8'),
        loader: 'text',
        watchFiles: [args.path],
      }));
    },
  };
}
