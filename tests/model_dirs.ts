// Loads an exported model directory (manifest.json + shards, the test fixtures' and e2e models' layout) from disk
// through the app's weight loader, as the tests that build pipelines or generators need it.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TokenizerSpec } from '../src/model/bpe';
import type { GenerateRequest } from '../src/model/pipeline';
import { loadWeights, type Manifest } from '../src/model/weights';

export function loadModelDir(dir: string) {
  const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8')) as Manifest;
  const shards = manifest.shards.map((s) => {
    const b = readFileSync(`${dir}/${s.file}`);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  });
  return { manifest, shards, weights: loadWeights(manifest, shards) };
}

/** The tiny models and PyTorch cases of tests/fixtures. */
export const FIXTURES = resolve(__dirname, 'fixtures');
export const loadFixtureModel = (name: string) => loadModelDir(`${FIXTURES}/${name}`);

/** tests/fixtures/pipeline_cases.json (tests/fixtures/make_pipeline_cases.py): the tokenizer, and per case a
 *  request and PyTorch's token grid after every step. */
export function pipelineCases() {
  return JSON.parse(readFileSync(`${FIXTURES}/pipeline_cases.json`, 'utf8')) as {
    tokenizer: TokenizerSpec;
    cases: Array<{ model: string; request: GenerateRequest; steps: number[][] }>;
  };
}
