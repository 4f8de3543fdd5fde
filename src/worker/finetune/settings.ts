// The one home of the fine-tuning run settings: for each, its range, the UI's starting value and step, and whether
// it is a whole number. DOM-free, so the fine-tuning panel (src/ui/finetune_panel.ts) and the run's request check
// (checkRequest in session.ts) read the same numbers. The preview's steps and guidance take their range from the
// generation settings (src/model/settings.ts): a preview is a generation. The starting values of the training
// numbers are the library's defaults (src/finetune/defaults.ts), so page, library and benchmark run the same recipe.
import {
  DEFAULT_FINETUNE_OPTIONS as OPT,
  DEFAULT_LORA_CONFIG as LORA,
  DEFAULT_RECIPE,
  DRIFT_CONTROL_PROMPTS,
  DRIFT_GUARD,
  PRIOR_MAX_FRACTION,
} from '../../finetune/defaults';
import { GENERATION_SETTINGS, type NumericSetting } from '../../model/settings';

export const FINETUNE_SETTINGS = {
  /** LoRA rank r. */
  rank: { min: 1, max: 64, default: LORA.rank, step: 1, integer: true },
  /** Optimizer steps. */
  steps: { min: 1, max: 5000, default: OPT.totalSteps, step: 1, integer: true },
  /** Peak learning rate. */
  lr: { min: 0.000001, max: 1, default: OPT.lr, step: 0.0005 },
  /** Pairs per step (pairs repeat when there are fewer). */
  batchSize: { min: 4, max: 32, default: OPT.batchSize, step: 1, integer: true },
  /** A preview every K steps; 0: only at the end (also what a request that leaves it out gets). */
  previewEvery: { min: 0, max: 5000, default: 50, step: 1, integer: true },
  /** How many of the control prompts (DRIFT_CONTROL_PROMPTS, 8) the drift guard renders; fewer only to save time
   *  where rendering is slow (the e2e tests on a software GPU). */
  driftControls: {
    min: 1,
    max: DRIFT_CONTROL_PROMPTS.length,
    default: DRIFT_CONTROL_PROMPTS.length,
    step: 1,
    integer: true,
  },
  /** A drift check on the first control prompts every K steps; 0: only the check after the run. */
  driftEvery: { min: 0, max: 5000, default: DRIFT_GUARD.every, step: 1, integer: true },
  /** Steps of textual inversion (the new word's own embedding row) before the LoRA steps; 0: none. */
  inversionSteps: { min: 0, max: 5000, default: DEFAULT_RECIPE.inversionSteps, step: 1, integer: true },
  /** Share of each batch taken by prior preservation (the base model's renders of the control prompts). */
  priorFraction: { min: 0, max: PRIOR_MAX_FRACTION, default: DEFAULT_RECIPE.priorFraction, step: 0.125 },
  /** MaskGIT steps of a preview image (and of the drift guard's control renders). */
  previewSteps: { min: GENERATION_SETTINGS.steps.min, max: GENERATION_SETTINGS.steps.max, default: 8, integer: true },
  /** Guidance of a preview image. */
  previewGuidance: {
    min: GENERATION_SETTINGS.guidance.min,
    max: GENERATION_SETTINGS.guidance.max,
    default: GENERATION_SETTINGS.guidance.default,
  },
  /** u32 seed of the LoRA init, the masks, the batches and the previews. */
  seed: { min: 0, max: 0xffffffff, default: OPT.seed, step: 1, integer: true },
} as const satisfies Record<string, NumericSetting>;

export type FineTuneSettingName = keyof typeof FINETUNE_SETTINGS;
