// <mm-adapter-strength>: beside the prompt panel's adapter picker, how the picked adapter applies: the strength slider
// (ADAPTER_STRENGTH, src/finetune/defaults.ts: 0 = the base model, 1 = as trained, up to 1.5) and the word gate's
// opt-out, "Apply to every prompt" (ADAPTER_EVERY_PROMPT, off: only prompts with the adapter's word use it, every
// other prompt is drawn by the base model exactly; src/finetune/word_gate.ts). Fires `mm-strength` (detail: the
// number) and `mm-every-prompt` (detail: the boolean) on every change; the panel sends them as the generation
// request's `adapterStrength` and `adapterEveryPrompt`. Above them, the adapter's scope: the prompts it changes
// ("applies to prompts with 'zorblat'", or "(every prompt)"; adapter_scope.ts).
import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { ADAPTER_EVERY_PROMPT, ADAPTER_STRENGTH as S } from '../finetune/defaults';
import { adapterScope } from './adapter_scope';

@customElement('mm-adapter-strength')
export class AdapterStrength extends LitElement {
  @property({ type: Number }) value: number = S.default;
  @property({ type: Boolean }) everyPrompt: boolean = ADAPTER_EVERY_PROMPT.default;
  @property({ type: Boolean }) disabled = false;
  /** The picked adapter's word ('' when it names none). */
  @property() word = '';

  static override styles = css`
    :host { display: flex; align-items: center; gap: 0.5rem; font-size: 0.9rem; flex-wrap: wrap; }
    input[type='range'] { flex: 1; min-width: 6rem; }
    output { min-width: 2.5rem; text-align: right; font-variant-numeric: tabular-nums; }
    .every { display: flex; align-items: center; gap: 0.3rem; flex-basis: 100%; }
    .help { flex-basis: 100%; margin: 0; font-size: 0.78rem; color: var(--mm-muted); }
    .scope { flex-basis: 100%; margin: 0; font-size: 0.85rem; overflow-wrap: anywhere; }
  `;

  override render() {
    return html`
      <p class="scope" data-testid="adapter-scope">${adapterScope(this.word, this.everyPrompt)}</p>
      <label for="strength">Strength</label>
      <input id="strength" type="range" data-testid="adapter-strength" min=${S.min} max=${S.max} step=${S.step}
        .value=${String(this.value)} ?disabled=${this.disabled}
        title="0: the base model · 1: the adapter as trained · 1.5: stronger"
        @input=${(e: Event) => this.change(Number((e.target as HTMLInputElement).value))} />
      <output data-testid="adapter-strength-value">${this.value.toFixed(2)}</output>
      <span class="every">
        <input id="every-prompt" type="checkbox" data-testid="adapter-every-prompt" aria-describedby="every-help"
          .checked=${this.everyPrompt} ?disabled=${this.disabled}
          @change=${(e: Event) => this.changeEvery((e.target as HTMLInputElement).checked)} />
        <label for="every-prompt">Apply to every prompt</label>
      </span>
      <p class="help" id="every-help">${
        this.everyPrompt
          ? 'The adapter changes every prompt, also those without its word.'
          : 'Only prompts with the adapter’s word use it; other prompts are drawn by the base model unchanged.'
      }</p>
    `;
  }

  private change(v: number): void {
    if (!Number.isFinite(v)) return;
    this.value = Math.min(S.max, Math.max(S.min, v));
    this.dispatchEvent(new CustomEvent<number>('mm-strength', { detail: this.value, bubbles: true, composed: true }));
  }

  private changeEvery(on: boolean): void {
    this.everyPrompt = on;
    this.dispatchEvent(new CustomEvent<boolean>('mm-every-prompt', { detail: on, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-adapter-strength': AdapterStrength;
  }
}
