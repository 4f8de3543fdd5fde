// <mm-variations-grid>: the N images of a variations run side by side, each with its seed and its own filmstrip
// (every step, newest last; click or arrow keys to show one). "Vary this" starts image-to-image from that image at
// low strength (VARY_STRENGTH, edit_requests.ts) with its seed, sent as `mm-generate` like the prompt panel's.
// Pure presentation: frames come in as plain data (split per image by edit_frames.ts); a shown step whose preview was
// paced away gets its own picture through `decodeTokens` (edit_frames.ts ownPixels).
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { GenerateRequest } from '../worker/api';
import { paintFrame } from './frame_png';
import type { Frame } from './edit_frames';
import { ownPixels, type DecodeTokens } from './edit_frames';
import { varyRequest } from './edit_requests';
import { buttonLook, card } from './theme';

export interface VariationItem {
  seed: number;
  /** Every step of this image so far. */
  frames: Frame[];
  /** Final token grid, once the run has finished. */
  tokens?: Uint32Array;
}

@customElement('mm-variations-grid')
export class VariationsGrid extends LitElement {
  @property({ attribute: false }) items: VariationItem[] = [];
  /** The request the variations came from ("vary this" keeps its settings). */
  @property({ attribute: false }) base: GenerateRequest | null = null;
  @property({ type: Boolean }) busy = false;
  /** A step's picture from its tokens (the engine's decodeTokens), for a shown step whose preview was paced away. */
  @property({ attribute: false }) decodeTokens: DecodeTokens | null = null;
  /** Shown step per image (-1 = the newest). */
  @state() private shown: number[] = [];
  @state() private problem = '';

  static override styles = [
    card,
    css`
      :host { display: block; }
      .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 0.8rem; }
      figure { margin: 0; display: grid; gap: 0.3rem; }
      canvas.big {
        width: 100%;
        aspect-ratio: 1;
        image-rendering: pixelated;
        border-radius: 6px;
        border: 1px solid var(--mm-border);
        background: var(--mm-surface-2);
      }
      figcaption { font-size: 0.8rem; color: var(--mm-muted); font-variant-numeric: tabular-nums; }
      .strip { display: flex; gap: 0.2rem; overflow-x: auto; }
      .strip button {
        flex: none;
        padding: 0;
        border: 2px solid transparent;
        border-radius: 4px;
        background: none;
        cursor: pointer;
      }
      .strip button[aria-pressed='true'] { border-color: var(--mm-accent); }
      .strip canvas { width: 24px; height: 24px; image-rendering: pixelated; display: block; }
      button.vary { ${buttonLook} font-size: 0.8rem; padding: 0.3rem 0.6rem; }
      button:disabled { opacity: 0.5; cursor: not-allowed; }
      .error { color: var(--mm-warn-fg); font-size: 0.85rem; }
    `,
  ];

  private frameOf(i: number): Frame | undefined {
    const frames = this.items[i]?.frames ?? [];
    const s = this.shown[i] ?? -1;
    return s >= 0 && s < frames.length && !this.busy ? frames[s] : frames[frames.length - 1];
  }

  protected override updated(): void {
    this.renderRoot.querySelectorAll<HTMLCanvasElement>('canvas.big').forEach((c, i) => {
      const f = this.frameOf(i);
      if (f) paintFrame(c, f);
      if (f?.kept && !this.busy && this.decodeTokens)
        ownPixels(f, this.decodeTokens).then(
          () => this.requestUpdate(),
          (e: unknown) => console.warn('variations: could not decode the step; the last image stays', e),
        );
    });
    this.renderRoot.querySelectorAll<HTMLCanvasElement>('.strip canvas').forEach((c) => {
      const f = this.items[Number(c.dataset.item)]?.frames[Number(c.dataset.step)];
      const key = `${c.dataset.item}/${c.dataset.step}/${f?.steps}${f?.kept ? '/kept' : ''}`;
      if (f && c.dataset.painted !== key) {
        paintFrame(c, f);
        c.dataset.painted = key;
      }
    });
  }

  private select(i: number, s: number): void {
    const next = this.items.map((_, j) => this.shown[j] ?? -1);
    next[i] = s;
    this.shown = next;
  }

  private onStripKey(i: number, e: KeyboardEvent): void {
    const n = this.items[i]?.frames.length ?? 0;
    if (this.busy || n === 0) return;
    const at = this.shown[i] !== undefined && this.shown[i]! >= 0 ? this.shown[i]! : n - 1;
    const to = e.key === 'ArrowLeft' ? Math.max(0, at - 1) : e.key === 'ArrowRight' ? Math.min(n - 1, at + 1) : null;
    if (to === null) return;
    e.preventDefault();
    this.select(i, to);
  }

  private vary(item: VariationItem): void {
    if (!this.base || !item.tokens) return;
    const built = varyRequest(this.base, item.tokens, item.seed);
    if (!built.ok) {
      this.problem = built.problem;
      return;
    }
    this.problem = '';
    this.dispatchEvent(
      new CustomEvent<GenerateRequest>('mm-generate', { detail: built.req, bubbles: true, composed: true }),
    );
  }

  override render() {
    if (this.items.length < 2) return nothing;
    return html`<section class="card" aria-labelledby="var-h" data-testid="variations">
      <h2 id="var-h">Variations</h2>
      <div class="grid">
        ${this.items.map((item, i) => {
          const f = this.frameOf(i);
          const at = f ? item.frames.indexOf(f) : -1;
          return html`<figure data-testid="variation">
            <canvas class="big" width="128" height="128" role="img"
              aria-label="Variation ${i + 1}, seed ${item.seed}, step ${at + 1}"></canvas>
            <figcaption>Seed ${item.seed}${f ? ` · step ${at + 1}/${f.steps}` : ''}</figcaption>
            <div class="strip" role="group" aria-label="Steps of variation ${i + 1} (arrow keys move)"
              @keydown=${(e: KeyboardEvent) => this.onStripKey(i, e)}>
              ${item.frames.map(
                (
                  _,
                  s,
                ) => html`<button type="button" aria-label="Step ${s + 1}" aria-pressed=${s === at ? 'true' : 'false'} tabindex=${s === at ? 0 : -1} ?disabled=${this.busy} @click=${() => this.select(i, s)}>
                  <canvas width="128" height="128" data-item=${i} data-step=${s} aria-hidden="true"></canvas>
                </button>`,
              )}
            </div>
            <button type="button" class="vary" data-testid="vary-this"
              ?disabled=${this.busy || !item.tokens || !this.base} @click=${() => this.vary(item)}>Vary this</button>
          </figure>`;
        })}
      </div>
      ${this.problem ? html`<p class="error" role="alert">${this.problem}</p>` : nothing}
    </section>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-variations-grid': VariationsGrid;
  }
}
