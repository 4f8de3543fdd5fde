// Uploaded image bytes → the square RGBA the VQ encoder reads, in the worker (OffscreenCanvas, no DOM):
// sniff the magic bytes, read the pixel count from the header (over MAX_IMAGE_PIXELS: refused undecoded), decode
// with createImageBitmap (a broken file rejects here, not later), scale so the
// shorter side fills the square, centre-crop, and draw over white (transparent pixels become white, as the
// training images were composited). Each failure is an ImageRejectedError whose message is the reason shown.
import {
  describeNonImage,
  imageBlob,
  imageHeaderProblem,
  MAX_IMAGE_BYTES,
  sniffImageFormat,
} from '../../finetune/upload';

export class ImageRejectedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ImageRejectedError';
  }
}

/** Source rectangle of a centre crop to a square: the largest centred square of a w×h image. */
export function centreSquare(w: number, h: number): { sx: number; sy: number; side: number } {
  const side = Math.min(w, h);
  return { sx: (w - side) / 2, sy: (h - side) / 2, side };
}

/** Decodes and crops one image to size×size RGBA (alpha 255). Throws ImageRejectedError with the reason. */
export async function imageToSquareRGBA(name: string, bytes: ArrayBuffer, size: number): Promise<Uint8ClampedArray> {
  const head = new Uint8Array(bytes, 0, Math.min(16, bytes.byteLength));
  const format = sniffImageFormat(head);
  if (!format) throw new ImageRejectedError(describeNonImage(name, head));
  if (bytes.byteLength > MAX_IMAGE_BYTES)
    throw new ImageRejectedError(`the image is larger than ${MAX_IMAGE_BYTES / 1048576} MB`);
  // The pixel count from the header, before decoding: a tiny file claiming a huge picture is refused unread.
  const headerProblem = imageHeaderProblem(new Uint8Array(bytes), format);
  if (headerProblem) throw new ImageRejectedError(headerProblem);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(imageBlob(bytes, format));
  } catch {
    throw new ImageRejectedError(`the ${format.toUpperCase()} file is damaged or incomplete and could not be decoded`);
  }
  try {
    if (bitmap.width < 1 || bitmap.height < 1) throw new ImageRejectedError('the image has no pixels');
    const canvas = new OffscreenCanvas(size, size);
    const g = canvas.getContext('2d', { willReadFrequently: true });
    if (!g) throw new Error('OffscreenCanvas 2D is not available in this browser');
    g.fillStyle = '#ffffff';
    g.fillRect(0, 0, size, size);
    g.imageSmoothingEnabled = true;
    g.imageSmoothingQuality = 'high';
    const { sx, sy, side } = centreSquare(bitmap.width, bitmap.height);
    g.drawImage(bitmap, sx, sy, side, side, 0, 0, size, size);
    return g.getImageData(0, 0, size, size).data;
  } finally {
    bitmap.close();
  }
}
