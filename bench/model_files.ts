// Loads an exported model folder (manifest.json + shards, exactly what the page downloads) from disk in Node.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedModel } from '../src/model/pipeline';
import { loadWeights, type Manifest } from '../src/model/weights';

/** The manifest and its verified, dequantised weights, from `dir`. */
export function readModelDir(dir: string): LoadedModel {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const shards = manifest.shards.map((s) => {
    const b = readFileSync(join(dir, s.file));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  });
  return { manifest, weights: loadWeights(manifest, shards) };
}
