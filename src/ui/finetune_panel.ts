// <mm-finetune-panel>: "Teach a new word". Pictures with captions (mm-finetune-upload), the "New word" the
// adapter's word gate uses (prefilled with the captions' guess until typed in, checked against the captions:
// src/finetune/word_gate.ts; Start waits while it is refused), the run's settings (in an
// "Advanced settings" fold, closed by default, a one-line description each), the run's time estimate before Start
// (finetune_estimate.ts, from this device's measured speeds), start / pause / resume / cancel, a progress bar with step/total, steps per second and time left, the live
// loss chart, the preview images as they come, the drift guard's control pictures and drift beside them
// (mm-finetune-drift), save-as-named-adapter, and the saved adapters
// (mm-finetune-adapters). It calls the engine (MMambaEngineInterface) the app lends it and fires
// `mm-adapters-changed` (detail: the new list) so the generation picker stays current.
// Invariant: no GPU code here; everything heavy is in the worker. Cancel discards the run only.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { MAX_ADAPTER_FILE_BYTES } from '../finetune/api';
import { DRIFT_GUARD } from '../finetune/defaults';
import { GATE_WORD, gateWordProblem, guessWord } from '../finetune/word_gate';
import type {
  AdaptScope,
  AdapterInfoRow,
  MMambaEngineInterface,
  FineTuneProgress,
  FineTuneRequest,
  RgbaImage,
} from '../worker/api';
import { FINETUNE_SETTINGS as FT, type FineTuneSettingName } from '../worker/finetune/settings';
import type { FineTuneUpload } from './finetune_upload';
import { buttonLook, card, fieldLook } from './theme';
import { formatDuration, speedText } from './finetune_speed';
import {
  estimateText,
  loadGenStepSec,
  loadTrainRate,
  type MeasuredTrainRate,
  type RunPlan,
  saveTrainRate,
} from './finetune_estimate';
import type { ControlPictures, DriftCheckView } from './finetune_drift';
import './finetune_adapters';
import './finetune_drift';
import './finetune_upload';
import './loss_chart';

/** The choices of "What to adapt" (src/worker/finetune/session.ts ADAPT_TARGETS has the weights of each). */
const ADAPT_CHOICES: Array<[AdaptScope, string]> = [
  ['all', 'Drawing and word meaning (generator + text encoder)'],
  ['generator', 'Drawing only (generator)'],
  ['text', 'Word meaning only (text encoder)'],
];

type RunPhase = 'idle' | 'preparing' | 'running' | 'paused' | 'finished';

interface Preview {
  step: number;
  prompt: string;
  url: string;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A data: URL of an RGBA image (via a canvas), for an <img>. */
function toUrl(img: RgbaImage): string {
  const c = document.createElement('canvas');
  c.width = img.width;
  c.height = img.height;
  c.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(img.rgba), img.width, img.height), 0, 0);
  return c.toDataURL('image/png');
}

@customElement('mm-finetune-panel')
export class FineTunePanel extends LitElement {
  @property({ attribute: false }) engine: MMambaEngineInterface | null = null;
  /** The loaded generator (null while none is loaded: the panel is inert). */
  @property() modelId: string | null = null;
  @property({ attribute: false }) adapters: AdapterInfoRow[] = [];
  /** Set by the app after a generation measured a new speed (saved by model in localStorage, read from there). */
  @property({ attribute: false }) genStepSec: number | null = null;

  @state() private phase: RunPhase = 'idle';
  @state() private rank: number = FT.rank.default;
  @state() private steps: number = FT.steps.default;
  @state() private lr: number = FT.lr.default;
  @state() private batch: number = FT.batchSize.default;
  @state() private previewPrompt = '';
  @state() private previewEvery: number = FT.previewEvery.default;
  @state() private seed: number = FT.seed.default;
  @state() private adapt: AdaptScope = 'all';
  @state() private driftEvery: number = FT.driftEvery.default;
  @state() private inversionSteps: number = FT.inversionSteps.default;
  @state() private priorFraction: number = FT.priorFraction.default;
  @state() private stopOnDrift: boolean = DRIFT_GUARD.stopOnDrift;
  @state() private controls: ControlPictures | null = null;
  @state() private driftCheck: DriftCheckView | null = null;
  @state() private losses: number[] = [];
  @state() private step = 0;
  @state() private total = 0;
  @state() private sps: number | null = null;
  @state() private eta: number | null = null;
  @state() private previews: Preview[] = [];
  @state() private status = '';
  @state() private error = '';
  @state() private canSave = false;
  @state() private saveName = '';
  @state() private adapterError = '';
  @state() private adapterNote = '';
  @state() private advancedOpen = false;
  /** The "New word" field: the adapter's word gate (src/finetune/word_gate.ts). It follows the captions' guess
   *  until the person types in it (and again once they empty it). */
  @state() private word = '';
  @state() private wordTyped = false;
  /** The captions as they stand (the upload's), for the word's guess and check. */
  @state() private captions: string[] = [];
  /** The last fine-tuning run's speed on this model and device (remembered across reloads). */
  @state() private trainRate: MeasuredTrainRate | null = null;
  /** This device's seconds per guided generation step on the loaded model (remembered across reloads). */
  @state() private genSec: number | null = null;

  @query('mm-finetune-upload') private upload!: FineTuneUpload;

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('modelId') && this.modelId) this.trainRate = loadTrainRate(this.modelId);
    // The app saved the new generation speed under its model before setting genStepSec: read it for this model.
    if ((changed.has('modelId') || changed.has('genStepSec')) && this.modelId)
      this.genSec = loadGenStepSec(this.modelId);
  }

  /** The time the run as set would take on this device (shown before Start; follows every setting). */
  private estimate(): string {
    const o = testOverrides();
    const controls = o.driftControls ?? FT.driftControls.default;
    const plan: RunPlan = {
      steps: this.steps,
      inversionSteps: this.inversionSteps,
      batch: this.batch,
      previewEvery: this.previewEvery,
      driftEvery: this.driftEvery,
      renderSteps: o.previewSteps ?? FT.previewSteps.default,
      controls,
      controlsDuringRun: Math.min(DRIFT_GUARD.duringRun, controls),
    };
    return estimateText(plan, this.trainRate, this.genSec);
  }

  override updated(changed: Map<string, unknown>): void {
    // Tell the app whether the GPU is taken by training (generation waits while it is; a pause frees it).
    if (changed.has('phase')) {
      const training = this.phase === 'preparing' || this.phase === 'running';
      this.dispatchEvent(
        new CustomEvent<boolean>('mm-finetune-busy', { detail: training, bubbles: true, composed: true }),
      );
    }
  }

  static override styles = [
    card,
    css`
      :host { display: block; }
      h3 { font-size: 0.9rem; margin: 1rem 0 0.4rem; }
      .intro { margin: -0.3rem 0 0.8rem; font-size: 0.88rem; color: var(--mm-muted); }
      .settings { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 0.6rem; margin: 0.8rem 0; }
      @media (max-width: 480px) { .settings { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
      .settings .wide { grid-column: span 2; }
      .settings .full { grid-column: 1 / -1; }
      .help { margin: 0.2rem 0 0; font-size: 0.74rem; line-height: 1.3; color: var(--mm-muted); }
      .word { margin: 0.8rem 0 0; max-width: 24rem; }
      .word input { width: 100%; box-sizing: border-box; }
      .word input[aria-invalid='true'] { border-color: var(--mm-warn-fg); }
      .field-error { margin: 0.25rem 0 0; font-size: 0.8rem; color: var(--mm-warn-fg); overflow-wrap: anywhere; }
      details.advanced { margin: 0.8rem 0; border: 1px solid var(--mm-border); border-radius: 10px; padding: 0.5rem 0.7rem; }
      details.advanced summary { cursor: pointer; font-weight: 600; font-size: 0.88rem; border-radius: 4px; }
      details.advanced summary:focus-visible { outline: 2px solid var(--mm-accent); outline-offset: 2px; }
      .summary-note { font-weight: 400; color: var(--mm-muted); font-size: 0.8rem; }
      .fold-intro { font-size: 0.8rem; color: var(--mm-muted); margin: 0.5rem 0 0; }
      .estimate { font-size: 0.85rem; margin: 0 0 0.6rem; font-variant-numeric: tabular-nums; }
      label { display: block; font-size: 0.78rem; color: var(--mm-muted); margin-bottom: 0.25rem; }
      input, select {
        ${fieldLook}
        border-radius: 8px;
        padding: 0.4rem 0.5rem;
      }
      .buttons { display: flex; flex-wrap: wrap; gap: 0.5rem; }
      button {
        ${buttonLook}
        font-weight: 600;
        padding: 0.55rem 0.9rem;
        border-radius: 10px;
        flex: 1 1 auto;
      }
      button.primary { background: var(--mm-accent); color: var(--mm-accent-fg); border-color: transparent; }
      :disabled { opacity: 0.55; cursor: not-allowed; }
      .progress { margin-top: 0.9rem; }
      .progress p {
        display: flex;
        justify-content: space-between;
        flex-wrap: wrap;
        gap: 0.3rem;
        margin: 0 0 0.3rem;
        font-size: 0.82rem;
        font-variant-numeric: tabular-nums;
      }
      progress { width: 100%; height: 0.6rem; accent-color: var(--mm-accent); }
      .chart { margin-top: 0.6rem; }
      .previews {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(6rem, 1fr));
        gap: 0.5rem;
        margin-top: 0.6rem;
      }
      figure { margin: 0; font-size: 0.72rem; color: var(--mm-muted); text-align: center; }
      figure img {
        width: 100%;
        aspect-ratio: 1;
        image-rendering: pixelated;
        border-radius: 6px;
        display: block;
        border: 1px solid var(--mm-border);
      }
      .status { font-size: 0.85rem; margin: 0.6rem 0 0; }
      .error {
        background: var(--mm-warn-bg);
        border: 1px solid var(--mm-warn-border);
        color: var(--mm-warn-fg);
        border-radius: 8px;
        padding: 0.5rem 0.7rem;
        font-size: 0.85rem;
        margin: 0.6rem 0 0;
        overflow-wrap: anywhere;
      }
      .save { display: flex; gap: 0.5rem; margin-top: 0.8rem; flex-wrap: wrap; }
      .save input { flex: 1 1 10rem; width: auto; }
      mm-finetune-adapters { margin-top: 1rem; }
    `,
  ];

  override render() {
    const off = !this.engine || !this.modelId;
    const busy = this.phase === 'preparing' || this.phase === 'running' || this.phase === 'paused';
    const pct = this.total ? (this.step / this.total) * 100 : 0;
    const wordProblem = this.wordProblem();
    return html`<section class="card" aria-labelledby="ft-h" data-testid="finetune-panel" data-phase=${this.phase}>
      <h2 id="ft-h">Teach a new word</h2>
      <p class="intro">Give the model a handful of pictures of something new, each with a caption that uses a made-up word
        (say "a zorblat"). It learns a small add-on (a LoRA adapter) in this page; your pictures never leave this machine.
        Picked for generation, the add-on changes only prompts with that word.</p>
      <mm-finetune-upload ?disabled=${off || busy} @mm-ft-changed=${() => void this.check()}
        @mm-ft-captions=${this.captionsChanged}></mm-finetune-upload>
      ${this.wordField(busy, wordProblem)}

      <details class="advanced" data-testid="ft-advanced" ?open=${this.advancedOpen}
        @toggle=${(e: Event) => (this.advancedOpen = (e.target as HTMLDetailsElement).open)}>
        <summary>Advanced settings <span class="summary-note">(steps, rank, learning rate, batch, seed…)</span></summary>
        <p class="fold-intro">The defaults suit 8–32 pictures of one thing; change them if the previews do not learn the
          word (more steps) or the word leaks into other things drawn with it (fewer steps, a lower learning rate).</p>
        <div class="settings">
          ${this.num(
            'ft-steps',
            'Steps',
            'steps',
            () => this.steps,
            (v) => (this.steps = v),
            busy,
            'Training steps: more learns the word more firmly and takes longer.',
          )}
          ${this.num(
            'ft-rank',
            'Rank',
            'rank',
            () => this.rank,
            (v) => (this.rank = v),
            busy,
            'Size of the add-on: higher can hold more detail, but the file grows and it may copy the pictures.',
          )}
          ${this.num(
            'ft-lr',
            'Learning rate',
            'lr',
            () => this.lr,
            (v) => (this.lr = v),
            busy,
            'How big each step is: too high makes the loss jump or fail, too low learns little.',
          )}
          ${this.num(
            'ft-batch',
            'Batch',
            'batchSize',
            () => this.batch,
            (v) => (this.batch = v),
            busy,
            'Pictures per step (repeated when there are fewer): larger is steadier and slower.',
          )}
          ${this.num(
            'ft-preview-every',
            'Preview every',
            'previewEvery',
            () => this.previewEvery,
            (v) => (this.previewEvery = v),
            busy,
            'Draw a preview every this many steps; 0: only at the end.',
          )}
          ${this.num(
            'ft-seed',
            'Seed',
            'seed',
            () => this.seed,
            (v) => (this.seed = v),
            busy,
            'Fixes the random choices: the same pictures and settings give the same adapter.',
          )}
          ${this.num(
            'ft-drift-every',
            'Check other prompts every',
            'driftEvery',
            () => this.driftEvery,
            (v) => (this.driftEvery = v),
            busy,
            'Every this many steps, draw ordinary prompts to see they still look as before; 0: only at the end.',
          )}
          ${this.num(
            'ft-word-steps',
            'Word steps first',
            'inversionSteps',
            () => this.inversionSteps,
            (v) => (this.inversionSteps = v),
            busy,
            "Steps that learn only the new word's meaning before the add-on trains; 0: none.",
          )}
          ${this.num(
            'ft-prior',
            'Share of ordinary pictures',
            'priorFraction',
            () => this.priorFraction,
            (v) => (this.priorFraction = v),
            busy,
            "Part of each batch given to the model's own pictures of ordinary prompts, so it keeps drawing them.",
          )}
          <div class="wide">
            <label for="ft-stop-on-drift">When other prompts drift</label>
            <select id="ft-stop-on-drift" data-testid="ft-stop-on-drift" ?disabled=${busy}
              aria-describedby="ft-stop-on-drift-help"
              @change=${(e: Event) => (this.stopOnDrift = (e.target as HTMLSelectElement).value === 'stop')}>
              <option value="warn" ?selected=${!this.stopOnDrift}>Warn</option>
              <option value="stop"
                ?selected=${this.stopOnDrift}>Stop the run, keep the last adapter within the bound</option>
            </select>
            <p class="help" id="ft-stop-on-drift-help">Warn only, or stop and keep the last adapter that left ordinary
              prompts alone.</p>
          </div>
          <div class="full">
            <label for="ft-adapt">What to adapt</label>
            <select id="ft-adapt" data-testid="ft-adapt" .value=${this.adapt} ?disabled=${busy}
              aria-describedby="ft-adapt-help"
              @change=${(e: Event) => (this.adapt = (e.target as HTMLSelectElement).value as AdaptScope)}>
              ${ADAPT_CHOICES.map(([v, text]) => html`<option value=${v} ?selected=${v === this.adapt}>${text}</option>`)}
            </select>
            <p class="help" id="ft-adapt-help">Which parts of the model learn: the drawing, how the word is read, or
              both (the default).</p>
          </div>
          <div class="full">
            <label for="ft-preview-prompt">Preview prompt</label>
            <input id="ft-preview-prompt" data-testid="ft-preview-prompt" .value=${this.previewPrompt}
              ?disabled=${busy} aria-describedby="ft-preview-prompt-help" placeholder="the first caption"
              @input=${(e: Event) => (this.previewPrompt = (e.target as HTMLInputElement).value)} />
            <p class="help" id="ft-preview-prompt-help">What the previews draw; empty: the first caption.</p>
          </div>
        </div>
      </details>

      ${busy ? nothing : html`<p class="estimate" data-testid="ft-estimate">${this.estimate()}</p>`}
      <div class="buttons">
        ${
          busy
            ? html`${
                this.phase === 'paused'
                  ? html`<button type="button" class="primary" data-testid="ft-resume" @click=${() => void this.engine?.resumeFineTune()}>Resume</button>`
                  : html`<button type="button" data-testid="ft-pause" ?disabled=${this.phase !== 'running'} @click=${() => void this.engine?.pauseFineTune()}>Pause</button>`
              }
              <button type="button" data-testid="ft-cancel" @click=${this.cancel}>Cancel</button>`
            : html`<button type="button" class="primary" data-testid="ft-start" ?disabled=${off || wordProblem !== null} @click=${this.start}>Start fine-tuning</button>`
        }
      </div>

      ${
        this.total
          ? html`<div class="progress" data-testid="ft-progress">
            <p>
              <span data-testid="ft-step-info">step ${this.step} / ${this.total}</span>
              <span data-testid="ft-speed">${speedText(this.step, this.sps, this.eta, busy)}</span>
            </p>
            <progress max="100" .value=${pct} aria-label="Fine-tuning progress"></progress>
            <mm-loss-chart class="chart" data-testid="ft-loss-chart" .values=${this.losses}
              .total=${this.total}></mm-loss-chart>
          </div>`
          : nothing
      }
      ${
        this.previews.length
          ? html`<div class="previews" data-testid="ft-previews">
            ${this.previews.map((p) => html`<figure data-testid="ft-preview"><img src=${p.url} alt="Preview at step ${p.step}: ${p.prompt}" /><figcaption>step ${p.step}</figcaption></figure>`)}
          </div>`
          : nothing
      }
      <mm-finetune-drift .base=${this.controls} .check=${this.driftCheck} ?running=${busy}
        ?stopOnDrift=${this.stopOnDrift}
        @mm-drift-stop=${this.cancel}></mm-finetune-drift>
      ${this.status ? html`<p class="status" role="status" data-testid="ft-status">${this.status}</p>` : nothing}
      ${this.error ? html`<p class="error" role="alert" data-testid="ft-error">${this.error}</p>` : nothing}
      ${
        this.canSave
          ? html`<form class="save" @submit=${this.save}>
            <input data-testid="ft-save-name" aria-label="Adapter name" placeholder="name, e.g. zorblat"
              .value=${this.saveName}
              @input=${(e: Event) => (this.saveName = (e.target as HTMLInputElement).value)} />
            <button type="submit" class="primary" data-testid="ft-save"
              ?disabled=${this.saveName.trim() === ''}>Save adapter</button>
          </form>`
          : nothing
      }

      <mm-finetune-adapters
        .adapters=${this.adapters}
        .error=${this.adapterError}
        .note=${this.adapterNote}
        ?disabled=${off}
        @mm-adapter-delete=${(e: CustomEvent<string>) => void this.deleteAdapter(e.detail)}
        @mm-adapter-export=${(e: CustomEvent<string>) => void this.exportAdapter(e.detail)}
        @mm-adapter-import=${(e: CustomEvent<File>) => void this.importAdapter(e.detail)}
      ></mm-finetune-adapters>
    </section>`;
  }

  /** The "New word" field: label, help, and the check's message inline (Start stays disabled while there is one). */
  private wordField(busy: boolean, problem: string | null) {
    return html`<div class="word">
      <label for="ft-word">New word</label>
      <input id="ft-word" data-testid="ft-word" .value=${this.word} ?disabled=${busy} maxlength=${GATE_WORD.maxChars * 2}
        autocomplete="off" spellcheck="false" placeholder="e.g. ${GATE_WORD.example}" aria-invalid=${problem ? 'true' : 'false'}
        aria-describedby=${problem ? 'ft-word-help ft-word-error' : 'ft-word-help'}
        @input=${(e: Event) => {
          this.word = (e.target as HTMLInputElement).value;
          this.wordTyped = this.word.trim() !== '';
        }} />
      <p class="help" id="ft-word-help">The made-up word your captions use; prompts with it use the adapter.</p>
      ${problem ? html`<p class="field-error" id="ft-word-error" data-testid="ft-word-error">${problem}</p>` : nothing}
    </div>`;
  }

  /** The word's problem with the captions as they stand; null when it is fine or there are no pictures yet (Start
   *  then says to add some). */
  private wordProblem(): string | null {
    return this.captions.length ? gateWordProblem(this.word, this.captions, this.inversionSteps) : null;
  }

  /** The captions changed: re-read them; the word follows the guess until the person typed one. */
  private captionsChanged = (): void => {
    this.captions = (this.upload?.pairs ?? []).map((p) => p.caption);
    if (!this.wordTyped) this.word = guessWord(this.captions);
  };

  /** A number field for run setting `name`: range and step from FINETUNE_SETTINGS; whole-number settings are
   * rounded. */
  private num(
    id: string,
    label: string,
    name: Exclude<FineTuneSettingName, 'previewSteps' | 'previewGuidance'>,
    get: () => number,
    set: (v: number) => void,
    busy: boolean,
    help: string,
  ) {
    const { min, max, step, integer } = FT[name] as (typeof FT)[typeof name] & { integer?: boolean };
    return html`<div>
      <label for=${id}>${label}</label>
      <input id=${id} data-testid=${id} type="number" inputmode="decimal" min=${min} max=${max} step=${step}
        .value=${String(get())} ?disabled=${busy} aria-describedby="${id}-help"
        @change=${(e: Event) => {
          // Out-of-range values are clamped, non-numbers ignored; the field then shows what is used.
          const input = e.target as HTMLInputElement;
          const v = Number(input.value);
          if (input.value.trim() !== '' && Number.isFinite(v)) {
            const c = Math.min(max, Math.max(min, v));
            set(integer ? Math.round(c) : c);
          }
          input.value = String(get());
        }} />
      <p class="help" id="${id}-help">${help}</p>
    </div>`;
  }

  /** Asks the worker to decode, crop and encode what was added (rejects broken files one by one). */
  private async check(): Promise<void> {
    if (!this.engine || !this.modelId || !this.upload) return;
    this.error = '';
    const pairs = this.upload.pairs;
    if (!pairs.length) return;
    try {
      const report = await this.engine.prepareDataset(
        pairs.map((p) => ({ id: p.id, name: p.name, bytes: p.bytes, caption: p.caption })),
      );
      this.upload.applyReport(report);
      this.dataset.ready = String(report.accepted);
      this.captionsChanged();
    } catch (e) {
      this.error = `Could not read the pictures: ${message(e)}`;
    }
  }

  private start = async (): Promise<void> => {
    if (!this.engine || !this.modelId) return;
    this.error = '';
    this.status = '';
    this.canSave = false;
    this.phase = 'preparing';
    this.previews = [];
    this.controls = null;
    this.driftCheck = null;
    this.losses = [];
    this.step = 0;
    this.total = 0;
    this.sps = null;
    this.eta = null;
    const engine = this.engine;
    try {
      const pairs = this.upload.pairs;
      if (!pairs.length) throw new Error('Add some pictures first (PNG, JPEG or WebP), each with a caption.');
      const report = await engine.prepareDataset(
        pairs.map((p) => ({ id: p.id, name: p.name, bytes: p.bytes, caption: p.caption })),
      );
      this.upload.applyReport(report);
      if (!report.accepted) throw new Error('None of the pictures could be used; see the reasons above.');
      this.captionsChanged();
      const problem = gateWordProblem(this.word, this.captions, this.inversionSteps);
      if (problem) throw new Error(problem);
      const req: FineTuneRequest = {
        rank: this.rank,
        steps: this.steps,
        lr: this.lr,
        batchSize: this.batch,
        previewPrompt: this.previewPrompt.trim() || undefined,
        previewEvery: this.previewEvery,
        seed: this.seed,
        adapt: this.adapt,
        driftEvery: this.driftEvery,
        stopOnDrift: this.stopOnDrift,
        inversionSteps: this.inversionSteps,
        priorFraction: this.priorFraction,
        // the "New word": the adapter's word gate at generation (src/finetune/word_gate.ts) and what textual
        // inversion learns
        word: this.word.trim(),
        ...testOverrides(),
      };
      this.phase = 'running';
      this.status = `Training on ${report.accepted} picture${report.accepted === 1 ? '' : 's'}…`;
      const result = await engine.startFineTune(req, (p: FineTuneProgress) => this.onProgress(p));
      this.canSave = result.canSave;
      if (result.canSave && !this.saveName.trim()) this.saveName = this.word.trim();
      if (result.status === 'cancelled')
        this.status = 'Cancelled: nothing was kept; saved adapters and the model are unchanged.';
      else if (result.status === 'done')
        this.status = `Done: ${result.steps} steps in ${formatDuration(result.ms / 1000)}. Name the adapter and save it to use it for generation.`;
      else
        this.status = result.canSave
          ? `Stopped after ${result.steps} good steps; that adapter can still be saved.`
          : 'Stopped before any step succeeded; nothing to save.';
    } catch (e) {
      this.error = `Fine-tuning failed: ${message(e)}`;
    } finally {
      // The run's own speed (the worker's rolling mean, first step left out) makes the next estimate.
      if (this.sps && this.sps > 0 && this.modelId) {
        this.trainRate = { secPerStep: 1 / this.sps, batch: this.batch };
        saveTrainRate(this.modelId, this.trainRate);
      }
      this.phase = 'finished';
      this.dataset.runs = String(Number(this.dataset.runs ?? 0) + 1);
    }
  };

  private onProgress(p: FineTuneProgress): void {
    switch (p.kind) {
      case 'start':
        this.total = p.totalSteps;
        break;
      case 'step':
        this.step = p.step;
        this.total = p.totalSteps;
        this.losses = [...this.losses, p.loss];
        this.sps = p.stepsPerSec;
        this.eta = p.etaSec;
        if (p.phase === 'word') this.status = 'Learning the new word on its own (the rest of the model is unchanged)…';
        else if (this.status.startsWith('Learning the new word'))
          this.status = 'Training the adapter on top of the new word…';
        break;
      case 'preview':
        this.previews = [...this.previews, { step: p.step, prompt: p.prompt, url: toUrl(p.image) }].slice(-12);
        break;
      case 'paused':
        this.phase = 'paused';
        this.status = `Paused at step ${p.step}. You can generate with the base model meanwhile.`;
        break;
      case 'resumed':
        this.phase = 'running';
        this.status = 'Training…';
        break;
      case 'controls':
        this.controls = { prompts: p.prompts, urls: p.images.map(toUrl) };
        break;
      case 'drift':
        this.driftCheck = {
          step: p.step,
          final: p.final,
          report: p.report,
          prompts: p.prompts,
          urls: p.images.map(toUrl),
        };
        break;
      case 'nan-stop':
      case 'error-stop':
      case 'drift-stop':
        this.error = p.message;
        break;
      default:
        break;
    }
  }

  private cancel = async (): Promise<void> => {
    this.status = 'Cancelling after the current step…';
    await this.engine?.cancelFineTune();
  };

  private save = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!this.engine) return;
    this.adapterError = '';
    this.adapterNote = '';
    try {
      const r = await this.engine.saveAdapter(this.saveName);
      this.adapterNote = r.warning ?? `Saved "${r.adapter.name}". Pick it under "Adapter" in Create to use it.`;
      await this.refresh();
    } catch (err) {
      this.adapterError = `Could not save: ${message(err)}`;
    }
  };

  /** Reloads the adapter list and tells the app. */
  async refresh(): Promise<void> {
    if (!this.engine) return;
    try {
      const list = await this.engine.listAdapters();
      this.dispatchEvent(
        new CustomEvent<AdapterInfoRow[]>('mm-adapters-changed', { detail: list, bubbles: true, composed: true }),
      );
    } catch (e) {
      this.adapterError = `Could not list adapters: ${message(e)}`;
    }
  }

  private async deleteAdapter(name: string): Promise<void> {
    if (!this.engine) return;
    this.adapterError = '';
    this.adapterNote = '';
    try {
      await this.engine.deleteAdapter(name);
      this.adapterNote = `Deleted "${name}".`;
    } catch (e) {
      this.adapterError = `Could not delete "${name}": ${message(e)}`;
    }
    await this.refresh();
  }

  private async exportAdapter(name: string): Promise<void> {
    if (!this.engine) return;
    this.adapterError = '';
    try {
      const { fileName, bytes } = await this.engine.exportAdapter(name);
      const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = fileName;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      this.adapterError = `Could not export "${name}": ${message(e)}`;
    }
  }

  private async importAdapter(file: File): Promise<void> {
    if (!this.engine) return;
    this.adapterError = '';
    this.adapterNote = '';
    const name = file.name.replace(/\.safetensors$/i, '').trim() || 'imported';
    if (file.size > MAX_ADAPTER_FILE_BYTES) {
      // Refused unread: a huge file never reaches memory or the worker.
      this.adapterError = `Could not import "${name}": the file is ${(file.size / 1048576).toFixed(1)} MB; an adapter is at most ${MAX_ADAPTER_FILE_BYTES / 1048576} MB.`;
      return;
    }
    try {
      const bytes = await file.arrayBuffer();
      const r = await this.engine.importAdapter(bytes, name);
      this.adapterNote = r.warning ?? `Imported "${r.adapter.name}".`;
      await this.refresh();
    } catch (e) {
      this.adapterError = message(e);
    }
  }
}

/** Preview and drift-guard settings tests may shorten (`?ft-preview-steps=1&ft-preview-guidance=1&ft-drift-controls=1`
 *  in the page URL). */
function testOverrides(): Partial<FineTuneRequest> {
  const q = new URLSearchParams(location.search);
  const out: Partial<FineTuneRequest> = {};
  const steps = Number(q.get('ft-preview-steps'));
  const g = Number(q.get('ft-preview-guidance'));
  if (Number.isInteger(steps) && steps >= 1) out.previewSteps = steps;
  if (q.has('ft-preview-guidance') && Number.isFinite(g)) out.previewGuidance = g;
  const controls = Number(q.get('ft-drift-controls'));
  if (Number.isInteger(controls) && controls >= 1) out.driftControls = controls;
  return out;
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-finetune-panel': FineTunePanel;
  }
  interface HTMLElementEventMap {
    'mm-adapters-changed': CustomEvent<AdapterInfoRow[]>;
    'mm-finetune-busy': CustomEvent<boolean>;
  }
}
