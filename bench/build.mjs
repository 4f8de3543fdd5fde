// Bundles bench/main.ts into one ES module for Node (`webgpu` stays external: it is staged next to the bundle).
// Usage: node bench/build.mjs OUTFILE [ENTRY] (ENTRY defaults to bench/main.ts)
import { build } from 'esbuild';
import { rawPlugin } from './esbuild_raw_plugin.mjs';

const outfile = process.argv[2] ?? '.gpu/bench.mjs';
await build({
  entryPoints: [process.argv[3] ?? 'bench/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  outfile,
  plugins: [rawPlugin()],
  logLevel: 'warning',
  legalComments: 'none',
});
console.error(`bench: bundled ${process.argv[3] ?? 'bench/main.ts'} -> ${outfile}`);
