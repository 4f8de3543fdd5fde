// One generated frame as PNG bytes, with the run's settings in PNG text chunks: what Download PNG saves (scaled
// with nearest-neighbour, like the canvas shows it) and what the gallery keeps (at its own size).
import { imageTextEntries, type ImageFacts } from './image_file';
import { withPngText } from './png_text';

/** The pixels a frame carries (RGBA8, width×height). */
export interface FramePixels {
  pixels: Uint8ClampedArray;
  width: number;
  height: number;
}

/** Draws a frame into a canvas at its own size. */
export function paintFrame(canvas: HTMLCanvasElement, f: FramePixels): void {
  if (canvas.width !== f.width) canvas.width = f.width;
  if (canvas.height !== f.height) canvas.height = f.height;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(f.pixels), f.width, f.height), 0, 0);
}

/** PNG bytes of `f` scaled `scale`× (nearest-neighbour); with `facts`, their text chunks (`step`: 1-based). */
export async function framePng(
  f: FramePixels,
  scale: number,
  facts: ImageFacts | null,
  step: number,
): Promise<Uint8Array> {
  const src = document.createElement('canvas');
  paintFrame(src, f);
  const out = document.createElement('canvas');
  out.width = f.width * scale;
  out.height = f.height * scale;
  const g = out.getContext('2d')!;
  g.imageSmoothingEnabled = false;
  g.drawImage(src, 0, 0, out.width, out.height);
  const blob = await new Promise<Blob | null>((resolve) => out.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('the browser could not encode a PNG');
  const bytes = new Uint8Array(await blob.arrayBuffer());
  return facts ? withPngText(bytes, imageTextEntries(facts, step)) : bytes;
}
