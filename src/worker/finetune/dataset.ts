// The fine-tuning dataset in the worker: image/caption pairs → VQ token grids (GPU VQ encoder) and caption ids
// (the generator's BPE, padded to text.max_len exactly as generation pads prompts).
//
// Decoded+encoded images are cached by the UI's item id (and byte length), so preparing again after a caption
// edit only re-tokenises. Invariant: a rejected item never stops the others; the report lists every item in
// the order given.
import type { Engine } from '../../engine/engine';
import type { BPETokenizer } from '../../model/bpe';
import { VQEncoder } from '../../model/vq_encoder';
import type { VQConfig } from '../../model/common';
import type { WeightMap } from '../../model/weights';
import { cleanCaption, MAX_PAIRS } from '../../finetune/upload';
import type { DatasetItemInput, DatasetItemReport, DatasetReport } from '../api';
import { imageToSquareRGBA, ImageRejectedError } from './images';

interface Encoded {
  byteLength: number;
  rgba: Uint8ClampedArray;
  /** (HW) VQ codes. */
  tokens: Int32Array;
}

/** What a run trains on. Rows are aligned: pair i is tokens[i·HW ..] with textIds[i·Lt ..]. */
export interface Dataset {
  genId: string;
  count: number;
  hw: number;
  lt: number;
  /** (count × HW) VQ codes. */
  tokens: Int32Array;
  /** (count × Lt) caption ids. */
  textIds: Int32Array;
  captions: string[];
}

export interface DatasetModels {
  engine: Engine;
  genId: string;
  vqId: string;
  vqConfig: VQConfig;
  vqWeights: WeightMap;
  tokenizer: BPETokenizer;
  /** The generator's codebook size: every code must be below it. */
  codebookSize: number;
}

export class DatasetBuilder {
  private cache = new Map<string, Encoded>();
  private cacheKey = '';
  private current: Dataset | null = null;

  /** The dataset of the last `prepare`, when it was for `genId` and holds at least one pair. */
  dataset(genId: string): Dataset | null {
    return this.current && this.current.genId === genId && this.current.count > 0 ? this.current : null;
  }

  clear(): void {
    this.cache.clear();
    this.current = null;
  }

  async prepare(items: DatasetItemInput[], m: DatasetModels): Promise<DatasetReport> {
    // Cached encodings are only valid for the tokenizer they were made with.
    const key = `${m.vqId}|${m.genId}`;
    if (key !== this.cacheKey) {
      this.cache.clear();
      this.cacheKey = key;
    }
    const S = m.vqConfig.image_size;
    const reports: DatasetItemReport[] = [];
    const keep: { id: string; caption: string; enc: Encoded }[] = [];
    const seen = new Set<string>();
    let encoder: VQEncoder | null = null;
    // Every item gets a verdict, so the list itself is bounded: a few times what one run can hold.
    if (items.length > 4 * MAX_PAIRS)
      throw new Error(`${items.length} pictures were sent; at most ${MAX_PAIRS} fit one run.`);
    try {
      for (const it of items) {
        if (!it || typeof it !== 'object' || typeof it.id !== 'string')
          throw new Error('prepareDataset needs a list of {id, name, bytes, caption}.');
        const name = String(it.name ?? 'file').slice(0, 256);
        const reject = (reason: string) => reports.push({ id: it.id, name, status: 'rejected', reason });
        if (seen.has(it.id)) {
          reject('listed twice');
          continue;
        }
        seen.add(it.id);
        if (!(it.bytes instanceof ArrayBuffer)) {
          reject('no file contents were received');
          continue;
        }
        if (keep.length >= MAX_PAIRS) {
          reject(`only ${MAX_PAIRS} pairs fit one run`);
          continue;
        }
        let enc = this.cache.get(it.id);
        if (!enc || enc.byteLength !== it.bytes.byteLength) {
          let rgba: Uint8ClampedArray;
          try {
            rgba = await imageToSquareRGBA(name, it.bytes, S);
          } catch (e) {
            reject(
              e instanceof ImageRejectedError
                ? e.message
                : `could not be read (${e instanceof Error ? e.message : String(e)})`,
            );
            continue;
          }
          encoder ??= new VQEncoder(m.engine, m.vqConfig, m.vqWeights);
          const x = encoder.imageFromRGBA(rgba);
          let tokens: Int32Array;
          try {
            tokens = await encoder.encode(x);
          } finally {
            x.dispose();
          }
          enc = { byteLength: it.bytes.byteLength, rgba, tokens };
          this.cache.set(it.id, enc);
        }
        if (enc.tokens.some((t) => t >= m.codebookSize)) {
          reject(
            `the image tokenizer has more codes than the generator (${m.codebookSize}); this model pair cannot be fine-tuned`,
          );
          continue;
        }
        const caption = cleanCaption(typeof it.caption === 'string' ? it.caption : '');
        keep.push({ id: it.id, caption, enc });
        reports.push({
          id: it.id,
          name,
          status: 'accepted',
          caption,
          image: { width: S, height: S, rgba: enc.rgba.slice() },
        });
      }
    } finally {
      encoder?.dispose();
    }
    // Forget encodings of items no longer listed.
    for (const id of [...this.cache.keys()]) if (!seen.has(id)) this.cache.delete(id);

    const hw = keep[0]?.enc.tokens.length ?? 0;
    const lt = m.tokenizer.maxLen;
    const tokens = new Int32Array(keep.length * hw);
    const textIds = new Int32Array(keep.length * lt);
    keep.forEach((k, i) => {
      tokens.set(k.enc.tokens, i * hw);
      textIds.set(m.tokenizer.encode(k.caption), i * lt);
    });
    this.current = {
      genId: m.genId,
      count: keep.length,
      hw,
      lt,
      tokens,
      textIds,
      captions: keep.map((k) => k.caption),
    };
    return { items: reports, accepted: keep.length, rejected: reports.length - keep.length, imageSize: S };
  }
}
