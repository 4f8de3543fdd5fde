// The one home of the fine-tuning defaults: the library (FineTuner, DEFAULT_* in api.ts), the page (the run
// settings' starting values in src/worker/finetune/settings.ts and the worker's run in session.ts) and the benchmark
// (bench/finetune.ts) all read these values, so a default changes in one place. DOM-free.
import type { FineTuneOptions, LoraConfig, LoraTarget } from './api';

/** The weights each choice of "what to adapt" gives a LoRA pair: the generator's mixer projections, adaptive norms
 *  (where the caption enters each layer) and head; the text encoder's blocks (attention and MLP: how a new word is
 *  read in its prompt) and output projections. `all` is the default. */
export const ADAPT_TARGETS = {
  all: ['in_proj', 'out_proj', 'mod', 'text', 'text_layers', 'head'],
  generator: ['in_proj', 'out_proj', 'mod', 'head'],
  text: ['text', 'text_layers'],
} as const satisfies Record<string, readonly LoraTarget[]>;

/** Rank 8, alpha = rank (scale 1), generator and text encoder. */
export const DEFAULT_LORA_CONFIG: Readonly<LoraConfig> = Object.freeze({
  rank: 8,
  alpha: 8,
  targets: [...ADAPT_TARGETS.all],
});

/** Linear warmup of a run of `totalSteps`: a fifth of the run, at most 10 steps. */
export function warmupStepsFor(totalSteps: number): number {
  return Math.min(10, Math.floor(totalSteps / 5));
}

const DEFAULT_TOTAL_STEPS = 200;

export const DEFAULT_FINETUNE_OPTIONS: Readonly<FineTuneOptions> = Object.freeze<FineTuneOptions>({
  batchSize: 8,
  lr: 0.002,
  weightDecay: 0,
  warmupSteps: warmupStepsFor(DEFAULT_TOTAL_STEPS),
  totalSteps: DEFAULT_TOTAL_STEPS,
  gradClip: 1.0,
  seed: 0,
  schedule: 'cosine',
  minLrRatio: 0.1,
  betas: [0.9, 0.95],
  eps: 1e-8,
  textDropout: 0.1,
});

/** How strongly an adapter applies at generation: W + strength·(alpha/rank)·B·A. 0 is the base model, 1 the adapter
 *  as trained, up to 1.5 to exaggerate it (as diffusers' adapter weights). Read by the generation request check and
 *  the page's slider. */
export const ADAPTER_STRENGTH = Object.freeze({ min: 0, max: 1.5, default: 1, step: 0.05 });

/** The word gate's opt-out (word_gate.ts): by default an adapter applies only to requests whose prompt contains its
 *  word, so every other prompt is drawn by the base model exactly; `true` applies it to every prompt. Read by the
 *  generation request check (`adapterEveryPrompt`) and the page's checkbox beside the strength slider. */
export const ADAPTER_EVERY_PROMPT = Object.freeze({ default: false });

/** The drift guard's control prompts (issue 20): ordinary things the new word should leave alone, each rendered with
 *  the base model before a run and with the adapter during and after it, at fixed seeds (CONTROL_SEED + index). */
export const DRIFT_CONTROL_PROMPTS: readonly string[] = Object.freeze([
  'red apple',
  'yellow star',
  'blue car',
  'green tree',
  'a red heart',
  'cat face',
  'house',
  'sun',
]);

/** The drift guard's schedule: a check every `every` steps (0: only after the run) renders the first `duringRun`
 *  controls (cheap), the check after the run all of them. `stopOnDrift`: stop the run when a check exceeds the
 *  bounds (DRIFT_BOUNDS in drift.ts) and keep the adapter of the last check within them; off, the page only warns. */
export const DRIFT_GUARD = Object.freeze({ controlSeed: 1000, every: 50, duringRun: 4, stopOnDrift: false });

/** The teach-a-word recipe beyond plain LoRA (issue 20). Off: on the shipped M-Mamba v2 (H200, 2026-12-02,
 *  bench/teach_recipes.ts, docs/benchmarks.md "Teaching a word") plain LoRA at 200 steps learned the word best
 *  (subject in 12 of 12 seeds, +6.9 dB mean) while textual inversion first, with or without prior preservation,
 *  learned it less (+3.7 / +4.3 dB) and leaked as much into other prompts; the word gate keeps those prompts exact.
 *  The knobs:
 *  `inversionSteps`: steps of textual inversion first (only the new word's own embedding row learns, at
 *  `inversionLr`; inversion.ts), then the LoRA steps on top (pivotal tuning); 0: LoRA only.
 *  `priorFraction`: share of each batch given to prior preservation (DreamBooth): the base model's own renders of
 *  the drift guard's control prompts, with their captions, so the adapter keeps drawing them as before. 0: none;
 *  at most PRIOR_MAX_FRACTION (a batch always holds pictures of the word). */
export const DEFAULT_RECIPE = Object.freeze({ inversionSteps: 0, inversionLr: 0.005, priorFraction: 0 });
export const PRIOR_MAX_FRACTION = 0.75;
