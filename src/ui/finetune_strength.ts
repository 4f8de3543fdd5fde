// <mm-adapter-strength>: the slider beside the prompt panel's adapter picker, how strongly the picked adapter applies
// (ADAPTER_STRENGTH, src/finetune/defaults.ts: 0 = the base model, 1 = as trained, up to 1.5). Fires `mm-strength`
// (detail: the number) on every change; the panel sends it as the generation request's `adapterStrength`.
import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { ADAPTER_STRENGTH as S } from '../finetune/defaults';

@customElement('mm-adapter-strength')
export class AdapterStrength extends LitElement {
  @property({ type: Number }) value: number = S.default;
  @property({ type: Boolean }) disabled = false;

  static override styles = css`
    :host { display: flex; align-items: center; gap: 0.5rem; font-size: 0.9rem; }
    input { flex: 1; min-width: 6rem; }
    output { min-width: 2.5rem; text-align: right; font-variant-numeric: tabular-nums; }
  `;

  override render() {
    return html`
      <label for="strength">Strength</label>
      <input id="strength" type="range" data-testid="adapter-strength" min=${S.min} max=${S.max} step=${S.step}
        .value=${String(this.value)} ?disabled=${this.disabled}
        title="0: the base model · 1: the adapter as trained · 1.5: stronger"
        @input=${(e: Event) => this.change(Number((e.target as HTMLInputElement).value))} />
      <output data-testid="adapter-strength-value">${this.value.toFixed(2)}</output>
    `;
  }

  private change(v: number): void {
    if (!Number.isFinite(v)) return;
    this.value = Math.min(S.max, Math.max(S.min, v));
    this.dispatchEvent(new CustomEvent<number>('mm-strength', { detail: this.value, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-adapter-strength': AdapterStrength;
  }
}
