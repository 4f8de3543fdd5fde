// The worker's narrow view of the fine-tuning library (src/finetune/{trainer,lora,adapter-format}.ts, owned by
// the trainer engineer): build a trainer, merge an adapter into a copy of the base weights, and read/write the
// `.safetensors` adapter file. Keeping it in one place keeps the worker independent of the library's internals.
import type { Engine } from '../../engine/engine';
import type {
  FineTuneOptions,
  FineTunerHandle,
  LoraAdapter,
  LoraConfig,
  BaseModelRef,
  WeightMap,
} from '../../finetune/api';
import { parseAdapter, serializeAdapter } from '../../finetune/adapter_format';
import { mergeAdapter } from '../../finetune/lora';
import { FineTuner } from '../../finetune/trainer';
import { WordInversion } from '../../finetune/inversion';
import type { TokenizerSpec } from '../../model/bpe';

/** The textual-inversion trainer as the run sees it (src/finetune/inversion.ts). */
export type WordInversionHandle = Pick<WordInversion, 'id' | 'config' | 'stepsDone' | 'step' | 'embedding' | 'dispose'>;

export interface FineTunePort {
  createTrainer(
    engine: Engine,
    base: { ref: BaseModelRef; weights: WeightMap },
    lora: LoraConfig,
    options: Partial<FineTuneOptions>,
  ): FineTunerHandle;
  /** A trainer of the new `word`'s own embedding row (textual inversion); `tokenizer` is the base's. */
  createWordInversion(
    engine: Engine,
    base: { ref: BaseModelRef; weights: WeightMap },
    tokenizer: TokenizerSpec,
    word: string,
    options: Partial<FineTuneOptions>,
  ): WordInversionHandle;
  /** A new WeightMap with the adapter merged; `base` is not modified. */
  mergeAdapter(base: WeightMap, adapter: LoraAdapter, strength?: number): WeightMap;
  serializeAdapter(adapter: LoraAdapter): ArrayBuffer;
  /** Validates against the base; throws AdapterFormatError / AdapterMismatchError. */
  parseAdapter(bytes: ArrayBuffer, base: BaseModelRef): LoraAdapter;
}

const port: FineTunePort = {
  createTrainer: (engine, base, lora, options) => new FineTuner(engine, base, lora, options),
  createWordInversion: (engine, base, tokenizer, word, options) =>
    new WordInversion(engine, base, tokenizer, word, options),
  mergeAdapter,
  serializeAdapter,
  parseAdapter,
};

/** The fine-tuning library (async so a later build may split it into its own chunk). */
export async function fineTunePort(): Promise<FineTunePort> {
  return port;
}
