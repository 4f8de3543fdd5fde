// Vite (dev server + build) and Vitest config.
// - Workers are ES modules (the engine worker is created with `{ type: 'module' }`).
// - Vitest runs the kernel tests in Node on Dawn (npm `webgpu`); on CPU-only machines Dawn
//   sits on SwiftShader, which is slow, hence the generous timeout and one fork at a time
//   (each fork owns one Dawn instance; two would only fight over the 2 cores).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  server: {
    host: '127.0.0.1',
    port: 5173,
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
