// The drift guard of a fine-tuning run (issue 20): the base model's renders of the control prompts
// (DRIFT_CONTROL_PROMPTS, fixed seeds) taken once before the run, and checks that render the same prompts and seeds
// with the adapter and measure how far they moved (driftReport, src/finetune/drift.ts: 32-px PSNR, colour shares,
// changed tokens). Rendering is the service's (a pipeline per call); this module only decides what to render and
// compares. Invariant: a check compares control i's adapted render with control i's base render (same prompt,
// seed and render settings).
import type { LoraAdapter } from '../../finetune/api';
import { DRIFT_CONTROL_PROMPTS, DRIFT_GUARD } from '../../finetune/defaults';
import { driftReport, type DriftReport } from '../../finetune/drift';
import type { RgbaImage } from '../api';

export interface Control {
  prompt: string;
  seed: number;
}

/** One control prompt's generation: its picture and its VQ token grid. */
export interface ControlRender {
  image: RgbaImage;
  tokens: ArrayLike<number>;
}

/** How a run's previews and control prompts are drawn: the request's preview steps and guidance, and the generator's
 *  recommended tau and temperature (FineTuneRun.render). */
export interface RenderSettings {
  steps: number;
  guidance: number;
  tau: number;
  temperature: number;
}

/** Renders `controls` (in order) with `adapter` merged into the base, or with the base model itself when null. */
export type RenderControls = (
  adapter: LoraAdapter | null,
  controls: readonly Control[],
  settings: RenderSettings,
) => Promise<ControlRender[]>;

/** The control prompts with their fixed seeds. */
export const CONTROLS: readonly Control[] = Object.freeze(
  DRIFT_CONTROL_PROMPTS.map((prompt, i) => ({ prompt, seed: DRIFT_GUARD.controlSeed + i })),
);

export interface DriftCheck {
  controls: Control[];
  /** The adapted renders, in the order of `controls`. */
  renders: ControlRender[];
  report: DriftReport;
}

export class DriftGuard {
  private base: ControlRender[] | null = null;
  /** The controls this guard uses: the first `count` of CONTROLS. */
  readonly controls: readonly Control[];

  constructor(
    private readonly render: RenderControls,
    private readonly settings: RenderSettings,
    count = CONTROLS.length,
  ) {
    this.controls = CONTROLS.slice(0, Math.max(1, Math.min(count, CONTROLS.length)));
  }

  /** Renders the guard's controls with the base model (once; later calls return the same renders). */
  async baseline(): Promise<ControlRender[]> {
    this.base ??= await this.render(null, this.controls, this.settings);
    return this.base;
  }

  /** The first `count` of the guard's controls rendered with `adapter`, against their base renders. */
  async check(adapter: LoraAdapter, count = this.controls.length): Promise<DriftCheck> {
    const base = await this.baseline();
    const controls = this.controls.slice(0, Math.max(1, Math.min(count, this.controls.length)));
    const renders = await this.render(adapter, controls, this.settings);
    const report = driftReport(
      base.slice(0, controls.length).map((r) => ({ image: r.image, tokens: r.tokens })),
      renders.map((r) => ({ image: r.image, tokens: r.tokens })),
    );
    return { controls, renders, report };
  }
}
