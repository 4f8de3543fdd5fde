// encodeImage's refusals (src/worker/generation/encode_image.ts): files that are not PNG/JPEG/WebP are refused with
// a readable ImageRejectedError before any decoding or GPU work, and that error crosses the worker boundary as its
// own class. (Decoding and the GPU encode run in the browser: e2e/editing.spec.ts.)
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine/engine';
import { encodeUploadedImage } from '../src/worker/generation/encode_image';
import type { ModelSource } from '../src/worker/generation/model_port';
import { deserializeError, ImageRejectedError, serializeError } from '../src/worker/errors';

const noEngine = {} as Engine; // never touched: the refusals come first
const vq = { manifest: { config: { image_size: 128 } }, weights: new Map() } as unknown as ModelSource;

async function refusal(bytes: unknown): Promise<Error> {
  try {
    await encodeUploadedImage(noEngine, vq, 1024, bytes as ArrayBuffer);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a refusal');
}

describe('encodeImage refusals', () => {
  it('names what is wrong with the file', async () => {
    const text = new TextEncoder().encode('hello, not a picture').buffer;
    const gif = new TextEncoder().encode('GIF89a......').buffer;
    const cases: [unknown, string][] = [
      [new ArrayBuffer(0), 'the file is empty'],
      [text, 'not a PNG, JPEG or WebP image'],
      [gif, 'GIF is not supported'],
      ['not bytes', 'no file contents were received'],
    ];
    for (const [bytes, why] of cases) {
      const e = await refusal(bytes);
      expect(e).toBeInstanceOf(ImageRejectedError);
      expect(e.message).toContain(why);
    }
  });

  it('crosses the worker boundary as ImageRejectedError', () => {
    const back = deserializeError(serializeError(new ImageRejectedError('the file is empty')));
    expect(back).toBeInstanceOf(ImageRejectedError);
    expect(back.message).toBe('the file is empty');
  });
});
