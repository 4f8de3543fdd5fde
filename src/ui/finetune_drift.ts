// <mm-finetune-drift>: the drift guard's view in the fine-tuning panel. The control prompts as the base model draws
// them (rendered before the run), the adapter's drawings of the same prompts and seeds at the latest check beside
// them with each one's drift (the adapter forced on: its leakage, since the word gate keeps prompts without the word
// on the base model; LEAKAGE_NOTE says so), the summary against the bounds, and a warning with a button that cancels the run (fires
// `mm-drift-stop`; the panel cancels) when a check exceeds them and the run was not asked to stop by itself. No GPU
// code: the worker renders.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { DRIFT_BOUNDS, type DriftReport } from '../finetune/drift';
import { controlText, driftSummary, driftWarning, LEAKAGE_NOTE } from './finetune_drift_text';

export interface ControlPictures {
  prompts: string[];
  /** data: URLs, one per prompt. */
  urls: string[];
}

export interface DriftCheckView extends ControlPictures {
  step: number;
  final: boolean;
  report: DriftReport;
}

@customElement('mm-finetune-drift')
export class FineTuneDrift extends LitElement {
  /** The base model's renders of the control prompts. */
  @property({ attribute: false }) base: ControlPictures | null = null;
  /** The latest check (its prompts are the first of `base`'s). */
  @property({ attribute: false }) check: DriftCheckView | null = null;
  /** True while the run goes on (the warning offers to stop it). */
  @property({ type: Boolean }) running = false;
  @property({ type: Boolean }) stopOnDrift = false;

  static override styles = css`
    :host { display: block; margin-top: 0.8rem; font-size: 0.82rem; }
    h3 { font-size: 0.9rem; margin: 0 0 0.4rem; }
    .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(7.5rem, 1fr)); gap: 0.5rem; }
    figure { margin: 0; font-size: 0.72rem; color: var(--mm-muted); text-align: center; }
    .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 2px; }
    img {
      width: 100%;
      aspect-ratio: 1;
      image-rendering: pixelated;
      border-radius: 4px;
      display: block;
      border: 1px solid var(--mm-border);
    }
    figure.over img.adapted { outline: 2px solid var(--mm-danger, #c62828); }
    .note { margin: 0 0 0.4rem; color: var(--mm-muted); }
    .summary { margin: 0.5rem 0 0; font-variant-numeric: tabular-nums; }
    .warn {
      margin: 0.4rem 0 0;
      color: var(--mm-danger, #c62828);
      display: flex;
      gap: 0.5rem;
      align-items: center;
      flex-wrap: wrap;
    }
    button { font: inherit; padding: 0.3rem 0.7rem; border-radius: 8px; cursor: pointer; }
  `;

  override render() {
    if (!this.base) return nothing;
    const c = this.check;
    return html`<section data-testid="ft-drift" aria-label="Other prompts with the adapter forced on (leakage)">
      <h3>Leakage, other prompts: base model${c ? html` · adapter forced on at step ${c.step}` : nothing}</h3>
      <p class="note" data-testid="ft-drift-note">${LEAKAGE_NOTE}</p>
      <div class="grid">
        ${this.base.prompts.map((prompt, i) => {
          const d = c?.report.prompts[i];
          const over = d !== undefined && !c!.report.withinBounds && this.exceeds(d);
          return html`<figure data-testid="ft-control" class=${over ? 'over' : ''}>
            <div class="pair">
              <img src=${this.base!.urls[i]} alt="Base model: ${prompt}" />
              ${d ? html`<img class="adapted" src=${c!.urls[i]} alt="With the adapter forced on: ${prompt}" />` : nothing}
            </div>
            <figcaption>${prompt}${d ? html`<br /><span data-testid="ft-control-drift">${controlText(d)}</span>` : nothing}</figcaption>
          </figure>`;
        })}
      </div>
      ${c ? html`<p class="summary" data-testid="ft-drift-summary" data-within=${String(c.report.withinBounds)}>${driftSummary(c.report, c.step, c.final)}</p>` : nothing}
      ${
        c && !c.report.withinBounds
          ? html`<p class="warn" role="alert" data-testid="ft-drift-warning">${driftWarning(this.stopOnDrift)}
            ${this.running && !this.stopOnDrift ? html`<button type="button" data-testid="ft-drift-stop" @click=${this.stop}>Cancel the run</button>` : nothing}</p>`
          : nothing
      }
    </section>`;
  }

  private exceeds(d: DriftReport['prompts'][number]): boolean {
    return d.psnr32 < DRIFT_BOUNDS.minPsnr32 || d.colourShareDiff > DRIFT_BOUNDS.maxColourShareDiff;
  }

  private stop = (): void => {
    this.dispatchEvent(new CustomEvent('mm-drift-stop', { bubbles: true, composed: true }));
  };
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-finetune-drift': FineTuneDrift;
  }
}
