// Public surface of the fine-tuning library (DOM-free; the worker and the Node tests import from here).
export * from './api';
export {
  ADAPT_TARGETS,
  ADAPTER_STRENGTH,
  ADAPTER_EVERY_PROMPT,
  DEFAULT_FINETUNE_OPTIONS,
  DEFAULT_LORA_CONFIG,
  warmupStepsFor,
} from './defaults';
export * from './errors';
export {
  loraParamNames,
  initAdapter,
  mergeAdapter,
  configHash,
  checkLoraConfig,
  factorShapes,
  loraScale,
} from './lora';
export { serializeAdapter, parseAdapter } from './adapter_format';
export { planMemory, largestMicroBatch } from './memory';
export { adapterApplies, containsWord, wordPieces } from './word_gate';
export { GATE_WORD, gateWordFormatProblem, gateWordProblem, guessWord, runWord } from './word_gate';
export { maskForTraining, dropText, defaultEmptyTextIds } from './masking';
export { FineTuner, learningRateAt } from './trainer';
export {
  DRIFT_GRID,
  DRIFT_BOUNDS,
  COLOUR_BINS,
  downsampleRgb,
  psnrAt,
  colourBin,
  colourShares,
  tokenChange,
  promptDrift,
  driftReport,
} from './drift';
export type { DriftImage, DriftSample, PromptDrift, DriftReport } from './drift';
export { MMambaAutodiff, type MaskedBatch, type ForwardBackwardResult } from './mmamba_autodiff';

// Compile-time check that the implementations keep the signatures api.ts promises.
import type { FineTuneLibrary } from './api';
import { loraParamNames as l1, initAdapter as l2, mergeAdapter as l3, configHash as l4 } from './lora';
import { serializeAdapter as f1, parseAdapter as f2 } from './adapter_format';
import { planMemory as m1 } from './memory';
export const fineTuneLibrary: FineTuneLibrary = {
  loraParamNames: l1,
  initAdapter: l2,
  mergeAdapter: l3,
  configHash: l4,
  serializeAdapter: f1,
  parseAdapter: f2,
  planMemory: m1,
};
