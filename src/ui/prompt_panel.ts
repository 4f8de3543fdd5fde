// <mm-prompt-panel>: prompt, negative prompt, sampling settings, model picker, Generate and Cancel. It only
// collects input and fires events (`mm-generate` with a GenerateRequest, `mm-cancel`, `mm-model` with a model
// id); the app decides what is possible (`disabled`, `busy`). Enter in the prompt generates (Shift+Enter: new line).
// Settings from a link (`shared`, already validated) prefill the fields once; what the link had wrong is a quiet
// note (`linkNote`). Example chips (EXAMPLE_PROMPTS) fill the prompt. The "empty prompt" hint waits until the person
// has typed. When Generate turns into Cancel (and back) while it has focus, focus moves to the button that replaced it
// (never lost to the page).
import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import {
  clampSetting,
  samplingDefault,
  GENERATION_SETTINGS as SETTINGS,
  type GenerationSettingName,
} from '../model/settings';
import { MAX_PROMPT_CHARS, type AdapterInfoRow, type GenerateRequest, type ModelInfo } from '../worker/api';
import { EXAMPLE_PROMPTS } from './examples';
import type { SharedSettings } from './share_link';
import { card, fieldLook } from './theme';
import { ADAPTER_EVERY_PROMPT, ADAPTER_STRENGTH } from '../finetune/defaults';
import './finetune_strength';

/** A random u32 seed (crypto when available). */
export function randomSeed(): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return a[0]!;
}

/** What the user should know about a prompt before generating ('' when nothing); `typed`: the person has
 *  typed in the prompt (an untouched empty prompt needs no warning). */
export function promptHint(prompt: string, typed = true): string {
  const p = prompt.trim();
  if (p === '') return typed ? 'Empty prompt: the image is unconditional (the model picks what to draw).' : '';
  const n = Array.from(p).length;
  if (n > MAX_PROMPT_CHARS) return `The prompt is ${n} characters; only the first ${MAX_PROMPT_CHARS} are used.`;
  if (!/[\p{L}\p{N}]/u.test(p))
    return 'No words in the prompt: the model learned from English captions, so this is close to unconditional.';
  return '';
}

/** Settings the panel takes over: a link's (SharedSettings) or a gallery image's (which also names its adapter;
 *  '' = the base model). */
export type Prefill = SharedSettings & { adapter?: string };

@customElement('mm-prompt-panel')
export class PromptPanel extends LitElement {
  /** True until a model is loaded: every control except the model picker is inert. */
  @property({ type: Boolean }) disabled = true;
  /** True while a generation runs: Generate turns into Cancel. */
  @property({ type: Boolean }) busy = false;
  /** Why the panel is disabled, shown under the button. */
  @property() note = '';
  /** Generators the picker offers. */
  @property({ attribute: false }) models: ModelInfo[] = [];
  @property() modelId = '';
  /** LoRA adapters of the loaded generator: the "Adapter" picker (absent when there are none). */
  @property({ attribute: false }) adapters: AdapterInfoRow[] = [];
  /** Settings from the page URL or the gallery: copied into the fields when set (once per new object). */
  @property({ attribute: false }) shared: Prefill | null = null;
  /** What the page URL had that was ignored, shown quietly under the button. */
  @property() linkNote = '';

  @state() private prompt = '';
  @state() private negative = '';
  @state() private steps: number = SETTINGS.steps.default;
  @state() private guidance: number = SETTINGS.guidance.default;
  @state() private seed = 1;
  /** '' = the base model. */
  @state() private adapter = '';
  /** How strongly the picked adapter applies (the slider beside the picker). */
  @state() private adapterStrength: number = ADAPTER_STRENGTH.default;
  @state() private adapterEveryPrompt: boolean = ADAPTER_EVERY_PROMPT.default;
  /** The person has typed in the prompt (or a link gave one). */
  @state() private typed = false;
  /** Steps or guidance were set by the person, a link or the gallery: picking a model no longer resets them to its
   *  recommendation (ModelInfo.sampling). */
  private settingsChosen = false;

  static override styles = [
    card,
    css`
      :host { display: block; }
      label { display: block; font-size: 0.85rem; font-weight: 550; margin-bottom: 0.35rem; }
      textarea, input, select {
        ${fieldLook}
        border-radius: 10px;
        padding: 0.6rem 0.7rem;
      }
      textarea { resize: vertical; min-height: 4rem; }
      textarea.neg { min-height: 2.4rem; }
      :disabled { cursor: not-allowed; opacity: 0.6; }
      .row { display: flex; justify-content: space-between; align-items: baseline; gap: 0.5rem; }
      .count { font-size: 0.75rem; color: var(--mm-muted); font-variant-numeric: tabular-nums; }
      .count.over { color: var(--mm-warn-fg); font-weight: 600; }
      .field { margin-top: 0.7rem; }
      .settings {
        display: grid;
        grid-template-columns: repeat(3, minmax(0, 1fr));
        gap: 0.6rem;
        margin: 0.8rem 0 1rem;
      }
      @media (max-width: 420px) { .settings { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
      .settings label { font-weight: 450; color: var(--mm-muted); font-size: 0.78rem; }
      .settings input, .settings select { padding: 0.45rem 0.55rem; }
      .seed { display: flex; gap: 0.3rem; }
      .seed input { min-width: 0; }
      .seed button {
        width: auto;
        padding: 0 0.55rem;
        display: grid;
        place-items: center;
        background: var(--mm-surface-2);
        color: var(--mm-fg);
        border: 1px solid var(--mm-border);
        font-weight: 500;
      }
      .model { grid-column: 1 / -1; }
      button {
        font: inherit;
        font-weight: 600;
        width: 100%;
        padding: 0.7rem 1rem;
        border: 0;
        border-radius: 10px;
        background: var(--mm-accent);
        color: var(--mm-accent-fg);
        cursor: pointer;
      }
      button.cancel { background: var(--mm-surface-2); color: var(--mm-fg); border: 1px solid var(--mm-border); }
      .note, .hint, .link-note { margin: 0.6rem 0 0; font-size: 0.85rem; color: var(--mm-muted); }
      .hint { color: var(--mm-warn-fg); }
      .examples {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.35rem;
        margin-top: 0.5rem;
        font-size: 0.8rem;
        color: var(--mm-muted);
      }
      button.chip {
        width: auto;
        font-weight: 500;
        font-size: 0.8rem;
        padding: 0.2rem 0.65rem;
        border-radius: 999px;
        background: var(--mm-surface-2);
        color: var(--mm-fg);
        border: 1px solid var(--mm-field-border);
      }
    `,
  ];

  /** The Generate/Cancel button had focus when `busy` changed: the replacing button takes it (see updated()). */
  private refocusAction = false;

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('busy')) this.refocusAction = !!this.shadowRoot?.activeElement?.matches('[data-action]');
    if ((changed.has('modelId') || changed.has('models')) && !this.settingsChosen) {
      const model = this.models.find((m) => m.id === this.modelId);
      if (model) {
        this.steps = samplingDefault('steps', model.sampling);
        this.guidance = samplingDefault('guidance', model.sampling);
      }
    }
    const s = this.shared;
    if (!changed.has('shared') || !s) return;
    if (s.prompt !== undefined) {
      this.prompt = s.prompt;
      this.typed = true;
    }
    if (s.negativePrompt !== undefined) this.negative = s.negativePrompt;
    if (s.seed !== undefined) this.seed = clampSetting('seed', s.seed);
    if (s.steps !== undefined) this.steps = clampSetting('steps', s.steps);
    if (s.guidance !== undefined) this.guidance = clampSetting('guidance', s.guidance);
    if (s.steps !== undefined || s.guidance !== undefined) this.settingsChosen = true;
    if (s.adapter !== undefined) this.adapter = s.adapter;
  }

  protected override updated(): void {
    if (!this.refocusAction) return;
    this.refocusAction = false;
    this.renderRoot.querySelector<HTMLButtonElement>('[data-action]')?.focus();
  }

  override render() {
    const off = this.disabled;
    const n = Array.from(this.prompt).length;
    const hint = promptHint(this.prompt, this.typed);
    return html`<section class="card" aria-labelledby="create-h">
      <h2 id="create-h">Create</h2>
      <form @submit=${this.onSubmit}>
        <div class="row">
          <label for="prompt">Prompt</label>
          <span class="count ${n > MAX_PROMPT_CHARS ? 'over' : ''}"
            data-testid="prompt-count">${n}/${MAX_PROMPT_CHARS}</span>
        </div>
        <textarea
          id="prompt"
          data-testid="prompt"
          placeholder="a red heart, flat emoji style"
          .value=${this.prompt}
          ?disabled=${off}
          @input=${(e: Event) => {
            this.prompt = (e.target as HTMLTextAreaElement).value;
            this.typed = true;
          }}
          @keydown=${this.onKeydown}
        ></textarea>
        <div class="examples" role="group" aria-label="Example prompts">
          <span aria-hidden="true">Try:</span>
          ${EXAMPLE_PROMPTS.map(
            (p) =>
              html`<button type="button" class="chip" data-testid="example-prompt" ?disabled=${off} @click=${() => this.useExample(p)}>${p}</button>`,
          )}
        </div>
        <div class="field">
          <label for="negative">Negative prompt <span class="count">(optional: what to steer away from)</span></label>
          <textarea
            id="negative"
            class="neg"
            data-testid="negative"
            rows="1"
            placeholder="blurry, dark"
            .value=${this.negative}
            ?disabled=${off}
            @input=${(e: Event) => (this.negative = (e.target as HTMLTextAreaElement).value)}
            @keydown=${this.onKeydown}
          ></textarea>
        </div>
        <div class="settings">
          ${this.numberField('steps', `Steps (${SETTINGS.steps.min}–${SETTINGS.steps.max})`, (v) => (this.steps = v))}
          ${this.numberField('guidance', 'Guidance', (v) => (this.guidance = v))}
          <div>
            <label for="seed">Seed</label>
            <div class="seed">
              <input
                id="seed"
                data-testid="seed"
                type="number"
                inputmode="numeric"
                .value=${String(this.seed)}
                min=${SETTINGS.seed.min}
                max=${SETTINGS.seed.max}
                step="1"
                ?disabled=${off}
                @change=${(e: Event) => {
                  const v = Number((e.target as HTMLInputElement).value);
                  if (Number.isFinite(v)) this.seed = clampSetting('seed', v);
                }}
              />
              <button type="button" data-testid="random-seed" title="Random seed" aria-label="Random seed"
                ?disabled=${off} @click=${() => (this.seed = randomSeed())}>
                <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true"><rect x="1.5" y="1.5" width="13"
                  height="13" rx="3" fill="none" stroke="currentColor" stroke-width="1.4" /><circle cx="5" cy="5"
                  r="1.3" fill="currentColor" /><circle cx="8" cy="8" r="1.3" fill="currentColor" /><circle cx="11"
                  cy="11" r="1.3" fill="currentColor" /></svg>
              </button>
            </div>
          </div>
          <div class="model">
            <label for="model">Model</label>
            <select id="model" data-testid="model-picker" ?disabled=${this.busy || this.models.length === 0}
              @change=${this.onModel}>
              ${this.models.map((m) => html`<option value=${m.id} ?selected=${m.id === this.modelId}>${m.name}${m.cached ? '' : ' (download)'}</option>`)}
            </select>
          </div>
          ${
            this.adapters.length
              ? html`<div class="model">
                <label for="adapter">Adapter</label>
                <select id="adapter" data-testid="adapter-picker" ?disabled=${off || this.busy}
                  @change=${(e: Event) => (this.adapter = (e.target as HTMLSelectElement).value)}>
                  <option value="" ?selected=${this.adapterInUse() === ''}>Base model (no adapter)</option>
                  ${this.adapters.map((a) => html`<option value=${a.name} ?selected=${a.name === this.adapterInUse()}>${a.name}</option>`)}
                </select>
                ${
                  this.adapterInUse()
                    ? html`<mm-adapter-strength .value=${this.adapterStrength} .everyPrompt=${this.adapterEveryPrompt}
                      .word=${this.adapters.find((a) => a.name === this.adapterInUse())?.word ?? ''}
                      ?disabled=${off || this.busy}
                      @mm-strength=${(e: CustomEvent<number>) => (this.adapterStrength = e.detail)}
                      @mm-every-prompt=${(e: CustomEvent<boolean>) => (this.adapterEveryPrompt = e.detail)}></mm-adapter-strength>`
                    : nothing
                }
              </div>`
              : nothing
          }
        </div>
        ${
          this.busy
            ? html`<button type="button" class="cancel" data-action data-testid="cancel" @click=${this.onCancel}>Cancel</button>`
            : html`<button type="submit" data-action data-testid="generate" ?disabled=${off}>Generate</button>`
        }
        ${hint && !off ? html`<p class="hint" data-testid="prompt-hint">${hint}</p>` : nothing}
        ${this.note ? html`<p class="note" data-testid="prompt-note">${this.note}</p>` : nothing}
        ${this.linkNote ? html`<p class="link-note" data-testid="link-note">${this.linkNote}</p>` : nothing}
      </form>
    </section>`;
  }

  /** A number field of a generation setting: range, step and clamping from src/model/settings.ts. */
  private numberField(id: 'steps' | 'guidance', label: string, set: (v: number) => void) {
    const { min, max, step } = SETTINGS[id satisfies GenerationSettingName];
    return html`<div>
      <label for=${id}>${label}</label>
      <input
        id=${id}
        data-testid=${id}
        type="number"
        inputmode="decimal"
        .value=${String(this[id])}
        min=${min}
        max=${max}
        step=${step}
        ?disabled=${this.disabled}
        @change=${(e: Event) => {
          const input = e.target as HTMLInputElement;
          const v = Number(input.value);
          if (Number.isFinite(v)) {
            set(clampSetting(id, v));
            this.settingsChosen = true;
          }
          input.value = String(this[id]);
        }}
      />
    </div>`;
  }

  /** An example chip: its text becomes the prompt, and the prompt field takes focus (Enter then generates). */
  private async useExample(prompt: string) {
    this.prompt = prompt;
    this.typed = true;
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLTextAreaElement>('#prompt')?.focus();
  }

  /** The picked adapter while it still exists ('' after it was deleted). */
  private adapterInUse(): string {
    return this.adapters.some((a) => a.name === this.adapter) ? this.adapter : '';
  }

  private onKeydown(e: KeyboardEvent) {
    // Enter generates; Shift+Enter keeps a new line; IME composition is left alone.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    }
  }

  private onSubmit(e: Event) {
    e.preventDefault();
    this.submit();
  }

  private onCancel() {
    this.dispatchEvent(new CustomEvent('mm-cancel', { bubbles: true, composed: true }));
  }

  private onModel(e: Event) {
    const id = (e.target as HTMLSelectElement).value;
    this.dispatchEvent(new CustomEvent<string>('mm-model', { detail: id, bubbles: true, composed: true }));
  }

  private submit() {
    if (this.disabled || this.busy) return;
    const detail: GenerateRequest = {
      prompt: this.prompt.trim(),
      negativePrompt: this.negative.trim() || undefined,
      steps: Math.round(this.steps),
      guidance: this.guidance,
      seed: Math.round(this.seed) >>> 0,
    };
    const adapter = this.adapterInUse();
    if (adapter) {
      detail.adapter = adapter;
      detail.adapterStrength = this.adapterStrength;
      if (this.adapterEveryPrompt) detail.adapterEveryPrompt = true;
    }
    this.dispatchEvent(new CustomEvent<GenerateRequest>('mm-generate', { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-prompt-panel': PromptPanel;
  }
  interface HTMLElementEventMap {
    'mm-generate': CustomEvent<GenerateRequest>;
    'mm-cancel': CustomEvent<void>;
    'mm-model': CustomEvent<string>;
  }
}
