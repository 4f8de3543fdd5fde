// Public surface of the fine-tuning library (DOM-free; the worker and the Node tests import from here).
export * from './api';
export * from './errors';
export { loraParamNames, initAdapter, mergeAdapter, configHash, checkLoraConfig, factorShapes, loraScale } from './lora';
export { serializeAdapter, parseAdapter } from './adapter-format';
export { planMemory, largestMicroBatch } from './memory';
export { maskForTraining, dropText, defaultEmptyTextIds } from './masking';
export { FineTuner, learningRateAt } from './trainer';
export { MMambaAutodiff, type MaskedBatch, type ForwardBackwardResult } from './mmamba_autodiff';
