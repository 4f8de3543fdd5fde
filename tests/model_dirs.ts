// Loads an exported model directory (manifest.json + shards, the test fixtures' and e2e models' layout) from disk
// through the app's weight loader, as the tests that build pipelines need it.
import { readFileSync } from 'node:fs';
import { loadWeights, type Manifest } from '../src/model/weights';

export function loadModelDir(dir: string) {
  const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8')) as Manifest;
  const shards = manifest.shards.map((s) => {
    const b = readFileSync(`${dir}/${s.file}`);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  });
  return { manifest, weights: loadWeights(manifest, shards) };
}
