// <mm-prompt-panel>: the prompt box, sampling settings and Generate button. It only collects input and
// fires `mm-generate` with a GenerateRequest; the app decides whether generation is possible (`disabled`).
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { GenerateRequest } from '../worker/api';
import { card } from './theme';

@customElement('mm-prompt-panel')
export class PromptPanel extends LitElement {
  /** True until a model is loaded (or while one is generating): every control is then inert. */
  @property({ type: Boolean }) disabled = true;
  /** Why the panel is disabled, shown under the button. */
  @property() note = '';

  @state() private prompt = '';
  @state() private steps = 12;
  @state() private guidance = 4;
  @state() private seed = 1;

  static override styles = [
    card,
    css`
      :host { display: block; }
      label { display: block; font-size: 0.85rem; font-weight: 550; margin-bottom: 0.35rem; }
      textarea, input {
        font: inherit;
        color: inherit;
        background: var(--mm-surface-2);
        border: 1px solid var(--mm-border);
        border-radius: 10px;
        padding: 0.6rem 0.7rem;
        width: 100%;
        box-sizing: border-box;
      }
      textarea { resize: vertical; min-height: 4.5rem; }
      textarea:focus-visible, input:focus-visible, button:focus-visible {
        outline: 2px solid var(--mm-accent);
        outline-offset: 1px;
      }
      :disabled { cursor: not-allowed; opacity: 0.6; }
      .settings {
        display: grid;
        grid-template-columns: repeat(3, minmax(0, 1fr));
        gap: 0.6rem;
        margin: 0.8rem 0 1rem;
      }
      .settings label { font-weight: 450; color: var(--mm-muted); font-size: 0.78rem; }
      .settings input { padding: 0.45rem 0.55rem; }
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
      .note { margin: 0.6rem 0 0; font-size: 0.85rem; color: var(--mm-muted); }
    `,
  ];

  override render() {
    const off = this.disabled;
    return html`<section class="card" aria-labelledby="create-h">
      <h2 id="create-h">Create</h2>
      <form @submit=${this.onSubmit}>
        <label for="prompt">Prompt</label>
        <textarea
          id="prompt"
          data-testid="prompt"
          placeholder="a red heart, flat emoji style"
          maxlength="200"
          .value=${this.prompt}
          ?disabled=${off}
          @input=${(e: Event) => (this.prompt = (e.target as HTMLTextAreaElement).value)}
          @keydown=${this.onKeydown}
        ></textarea>
        <div class="settings">
          ${this.numberField('steps', 'Steps', this.steps, 1, 32, 1, (v) => (this.steps = v))}
          ${this.numberField('guidance', 'Guidance', this.guidance, 0, 20, 0.5, (v) => (this.guidance = v))}
          ${this.numberField('seed', 'Seed', this.seed, 0, 4294967295, 1, (v) => (this.seed = v))}
        </div>
        <button type="submit" data-testid="generate" ?disabled=${off || this.prompt.trim() === ''}>Generate</button>
        ${this.note ? html`<p class="note" data-testid="prompt-note">${this.note}</p>` : nothing}
      </form>
    </section>`;
  }

  private numberField(id: string, label: string, value: number, min: number, max: number, step: number, set: (v: number) => void) {
    return html`<div>
      <label for=${id}>${label}</label>
      <input
        id=${id}
        type="number"
        inputmode="decimal"
        .value=${String(value)}
        min=${min}
        max=${max}
        step=${step}
        ?disabled=${this.disabled}
        @change=${(e: Event) => {
          const v = Number((e.target as HTMLInputElement).value);
          if (Number.isFinite(v)) set(Math.min(max, Math.max(min, v)));
        }}
      />
    </div>`;
  }

  private onKeydown(e: KeyboardEvent) {
    // Ctrl/Cmd+Enter generates from the prompt box.
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      this.submit();
    }
  }

  private onSubmit(e: Event) {
    e.preventDefault();
    this.submit();
  }

  private submit() {
    if (this.disabled || this.prompt.trim() === '') return;
    const detail: GenerateRequest = {
      prompt: this.prompt.trim(),
      steps: Math.round(this.steps),
      guidance: this.guidance,
      seed: Math.round(this.seed) >>> 0,
    };
    this.dispatchEvent(new CustomEvent<GenerateRequest>('mm-generate', { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-prompt-panel': PromptPanel;
  }
  interface HTMLElementEventMap {
    'mm-generate': CustomEvent<GenerateRequest>;
  }
}
