// The worker's narrow view of the fine-tuning library (src/finetune/{trainer,lora,adapter-format}.ts, owned by
// the trainer engineer): build a trainer, merge an adapter into a copy of the base weights, and read/write the
// `.safetensors` adapter file. Keeping it in one place keeps the worker independent of the library's internals.
import type { Engine } from '../../engine/engine';
import type { FineTuneOptions, FineTunerHandle, LoraAdapter, LoraConfig, BaseModelRef, WeightMap } from '../../finetune/api';
import { parseAdapter, serializeAdapter } from '../../finetune/adapter-format';
import { mergeAdapter } from '../../finetune/lora';
import { FineTuner } from '../../finetune/trainer';

export interface FineTunePort {
  createTrainer(engine: Engine, base: { ref: BaseModelRef; weights: WeightMap }, lora: LoraConfig, options: Partial<FineTuneOptions>): FineTunerHandle;
  /** A new WeightMap with the adapter merged; `base` is not modified. */
  mergeAdapter(base: WeightMap, adapter: LoraAdapter, strength?: number): WeightMap;
  serializeAdapter(adapter: LoraAdapter): ArrayBuffer;
  /** Validates against the base; throws AdapterFormatError / AdapterMismatchError. */
  parseAdapter(bytes: ArrayBuffer, base: BaseModelRef): LoraAdapter;
}

const port: FineTunePort = {
  createTrainer: (engine, base, lora, options) => new FineTuner(engine, base, lora, options),
  mergeAdapter,
  serializeAdapter,
  parseAdapter,
};

/** The fine-tuning library (async so a later build may split it into its own chunk). */
export async function fineTunePort(): Promise<FineTunePort> {
  return port;
}
