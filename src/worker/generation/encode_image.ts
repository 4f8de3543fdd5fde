// Image-to-image's first half: an uploaded PNG/JPEG/WebP → the token grid the generator edits. The bytes go through
// the fine-tuning upload checks and crop (../finetune/images.ts: sniffed format, header pixel count, decode,
// centre-crop to the VQ's image size over white), then the VQ encoder on the GPU (src/model/vq_encoder.ts).
// Failures a person can act on (not an image, too large, damaged, codes the generator lacks) are ImageRejectedError.
import type { Engine } from '../../engine/engine';
import type { VQConfig } from '../../model/common';
import { VQEncoder } from '../../model/vq_encoder';
import type { EncodedImage } from '../api';
import { imageToSquareRGBA, ImageRejectedError } from '../finetune/images';
import type { ModelSource } from './model_port';

/** `bytes` as the loaded VQ's token grid (row-major, H·W) and the square crop it encodes. */
export async function encodeUploadedImage(
  engine: Engine,
  vq: ModelSource,
  generatorCodebookSize: number,
  bytes: ArrayBuffer,
): Promise<EncodedImage> {
  if (!(bytes instanceof ArrayBuffer)) throw new ImageRejectedError('no file contents were received');
  const config = vq.manifest.config as unknown as VQConfig;
  const S = config.image_size;
  const rgba = await imageToSquareRGBA('the picture', bytes, S);
  const encoder = new VQEncoder(engine, config, vq.weights);
  let codes: Int32Array;
  try {
    const x = encoder.imageFromRGBA(rgba);
    try {
      codes = await encoder.encode(x);
    } finally {
      x.dispose();
    }
  } finally {
    encoder.dispose();
  }
  if (codes.some((t) => t >= generatorCodebookSize))
    throw new ImageRejectedError(
      `the image tokenizer has more codes than the generator (${generatorCodebookSize}); this model cannot edit pictures`,
    );
  return { tokens: Uint32Array.from(codes), image: { width: S, height: S, rgba } };
}
