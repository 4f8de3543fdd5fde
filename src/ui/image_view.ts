// <mm-image-view>: the generated image. A 128x128 canvas scaled up with pixelated rendering shows the selected
// step (the newest while generating), an optional overlay marks the tokens still masked (16x16 grid from the
// step's `masked`), a filmstrip keeps every step (click one to show it), Download PNG saves the shown step,
// named after its settings (`facts`) and carrying them in PNG text chunks (src/ui/image_file.ts), and Copy link puts
// a link that reproduces the image on the clipboard (src/ui/share_link.ts). "Edit this step" sends the shown step
// (its tokens; those still masked are re-drawn by any edit) to the edit panel as `mm-edit-picture`. A picked step
// whose preview was paced away (`kept`: it shows the last decoded image) gets its own picture from its tokens
// (`decodeTokens`, edit_frames.ts ownPixels); the last image stays until it arrives.
// Accessibility: the caption is a polite live region (step, Done, Cancelled are announced); the canvas is named
// after the prompt and step; the filmstrip is one tab stop whose buttons ("Step i of n") arrow keys move through
// (Left/Right, Home/End), showing the step they land on.
// Pure presentation: frames come in as plain data, no GPU here.
import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { ownPixels, type DecodeTokens, type Frame } from './edit_frames';
import { framePng, paintFrame } from './frame_png';
import { canvasLabel, imageFileName, type ImageFacts } from './image_file';
import { withSharedSettings } from './share_link';
import { buttonLook, card } from './theme';

/** What "Edit this step" (and the gallery's Edit) hand to the edit panel. */
export interface PictureToEdit {
  tokens: Uint32Array;
  /** 1 where the token is still [MASK] (an unfinished step). */
  unknown?: Uint8Array;
  image: { pixels: Uint8ClampedArray; width: number; height: number };
  /** What it is, for the panel's "Editing …" line. */
  label: string;
}

/** "85 ms" below a second, "1.4 s" above. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function paintMask(canvas: HTMLCanvasElement, masked: Uint8Array): void {
  const g = Math.round(Math.sqrt(masked.length));
  canvas.width = g;
  canvas.height = g;
  const img = new ImageData(g, g);
  for (let i = 0; i < g * g; i++) {
    if (!masked[i]) continue;
    img.data.set([91, 75, 219, 150], i * 4); // accent colour, translucent
  }
  canvas.getContext('2d')!.putImageData(img, 0, 0);
}

/** Set once per page load when the first generated step with its own picture (not a paced-away step showing a kept
 *  or blank image) is painted into the main canvas; its detail is `{ step }` (0-based). */
export const FIRST_IMAGE_MARK = 'mm-first-step-image';

@customElement('mm-image-view')
export class ImageView extends LitElement {
  @property({ attribute: false }) frames: Frame[] = [];
  /** True while a generation runs (the view follows the newest frame). */
  @property({ type: Boolean }) busy = false;
  /** Line under the image (status, total time, cancellation). */
  @property() caption = '';
  /** Settings of the run the frames come from (null: unknown; the download then gets a generic name). */
  @property({ attribute: false }) facts: ImageFacts | null = null;
  /** A step's picture from its tokens (the engine's decodeTokens), for a picked step whose preview was paced away;
   *  null: such a step keeps showing the last decoded image. */
  @property({ attribute: false }) decodeTokens: DecodeTokens | null = null;
  /** Index of the shown frame; -1 = the newest. */
  @state() private selected = -1;
  @state() private overlay = false;
  /** What Copy link did (shown next to the buttons until the next run). */
  @state() private linkNote = '';

  @query('canvas.main') private main!: HTMLCanvasElement | null;
  @query('canvas.mask') private mask!: HTMLCanvasElement | null;

  static override styles = [
    card,
    css`
      :host { display: block; }
      .stage {
        position: relative;
        width: 100%;
        max-width: 512px;
        aspect-ratio: 1;
        margin: 0 auto;
        border-radius: 10px;
        overflow: hidden;
        border: 1px solid var(--mm-border);
        background-color: var(--mm-surface-2);
        background-image:
          linear-gradient(to right, var(--mm-border) 1px, transparent 1px),
          linear-gradient(to bottom, var(--mm-border) 1px, transparent 1px);
        background-size: calc(100% / 16) calc(100% / 16);
      }
      canvas.main, canvas.mask {
        position: absolute;
        inset: 0;
        width: 100%;
        height: 100%;
        image-rendering: pixelated;
      }
      canvas.mask { pointer-events: none; }
      .empty {
        position: absolute;
        inset: 0;
        display: grid;
        place-items: center;
        color: var(--mm-muted);
        font-size: 0.9rem;
        text-align: center;
      }
      .empty span { background: var(--mm-surface); padding: 0.3rem 0.6rem; border-radius: 8px; margin: 1rem; }
      .bar {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.5rem 1rem;
        margin: 0.7rem 0 0.3rem;
        font-size: 0.85rem;
      }
      .bar .grow { flex: 1; min-width: 8rem; color: var(--mm-muted); font-variant-numeric: tabular-nums; }
      .bar label { display: inline-flex; align-items: center; gap: 0.35rem; cursor: pointer; }
      button {
        ${buttonLook}
        font-size: 0.85rem;
        padding: 0.4rem 0.8rem;
      }
      button:disabled { opacity: 0.5; cursor: not-allowed; }
      .strip {
        display: flex;
        gap: 0.35rem;
        overflow-x: auto;
        padding: 0.4rem 0 0.2rem;
        scrollbar-width: thin;
      }
      .frame {
        flex: none;
        display: grid;
        gap: 0.15rem;
        justify-items: center;
        font-size: 0.68rem;
        color: var(--mm-muted);
        background: none;
        border: 2px solid transparent;
        padding: 0.1rem;
        border-radius: 6px;
        font-variant-numeric: tabular-nums;
      }
      .frame.on { border-color: var(--mm-accent); }
      .frame:focus-visible { outline-offset: 0; }
      .frame canvas {
        width: 52px;
        height: 52px;
        image-rendering: pixelated;
        border-radius: 4px;
        background: var(--mm-surface-2);
      }
      .link-note { margin: 0 0 0.3rem; font-size: 0.8rem; color: var(--mm-muted); overflow-wrap: anywhere; }
      .caption { margin: 0.3rem 0 0; font-size: 0.85rem; color: var(--mm-muted); }
    `,
  ];

  /** The frame on the canvas (selected, else the newest). */
  get shown(): Frame | null {
    if (this.frames.length === 0) return null;
    const i =
      this.selected >= 0 && this.selected < this.frames.length && !this.busy ? this.selected : this.frames.length - 1;
    return this.frames[i] ?? null;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    // A new generation (fewer frames than before) shows the newest again.
    const prev = changed.get('frames') as Frame[] | undefined;
    if (prev && this.frames.length < prev.length) {
      this.selected = -1;
      this.linkNote = '';
    }
  }

  protected override updated(): void {
    const f = this.shown;
    if (f && this.main) {
      paintFrame(this.main, f);
      // performance mark of the first step image on screen since navigation (bench/first_image.ts reads it)
      if (!f.kept && performance.getEntriesByName(FIRST_IMAGE_MARK).length === 0)
        performance.mark(FIRST_IMAGE_MARK, { detail: { step: f.step } });
    }
    if (f?.kept && !this.busy) void this.showOwn(f);
    if (f && this.mask) paintMask(this.mask, f.masked);
    // Thumbnails: paint the ones not painted yet (each canvas keeps its frame's step in a data attribute).
    const thumbs = this.renderRoot.querySelectorAll<HTMLCanvasElement>('.frame canvas');
    thumbs.forEach((c, i) => {
      const fr = this.frames[i];
      const key = `${String(fr?.step)}/${fr?.steps}/${this.frames.length}${fr?.kept ? '/kept' : ''}`;
      if (fr && c.dataset.painted !== key) {
        paintFrame(c, fr);
        c.dataset.painted = key;
      }
    });
    // Keep the newest thumbnail in view while generating.
    if (this.busy) this.renderRoot.querySelector('.strip')?.scrollTo({ left: 1e6 });
  }

  override render() {
    const f = this.shown;
    const idx = f ? this.frames.indexOf(f) : -1;
    return html`<section class="card" aria-labelledby="img-h">
      <h2 id="img-h">Image</h2>
      <div class="stage" data-testid="preview">
        ${
          f
            ? html`<canvas class="main" data-testid="canvas" width="128" height="128" role="img" aria-label=${canvasLabel(this.facts?.prompt, idx + 1, f.steps)}></canvas>
              ${this.overlay ? html`<canvas class="mask" data-testid="mask-overlay"></canvas>` : nothing}`
            : html`<div class="empty"><span>Your image appears here, token by token.</span></div>`
        }
      </div>
      <div class="bar">
        <span class="grow" data-testid="step-info"
          >${
            f
              ? html`step ${idx + 1}/${f.steps} · ${formatMs(f.msStep)}/step · ${f.masked.reduce((s, m) => s + m, 0)} masked`
              : 'no image yet'
          }</span
        >
        <label><input type="checkbox" data-testid="mask-toggle" .checked=${this.overlay}
          @change=${(e: Event) => (this.overlay = (e.target as HTMLInputElement).checked)} /> Show masked tokens</label>
        <button type="button" data-testid="edit-this" ?disabled=${!f?.tokens || this.busy}
          @click=${this.editShown}>Edit this step</button>
        <button type="button" data-testid="download-png" ?disabled=${!f || this.busy}
          @click=${this.download}>Download PNG</button>
        <button type="button" data-testid="copy-link" ?disabled=${!f || this.busy || !this.facts}
          @click=${this.copyLink}>Copy link</button>
      </div>
      ${this.linkNote ? html`<p class="link-note" role="status" data-testid="link-copied">${this.linkNote}</p>` : nothing}
      ${
        this.frames.length
          ? html`<div class="strip" data-testid="filmstrip" role="group" aria-label="Every step (arrow keys move)" @keydown=${this.onStripKey}>
            ${this.frames.map(
              (fr, i) => html`<button
                type="button"
                class="frame ${i === idx ? 'on' : ''}"
                data-testid="filmstrip-frame"
                aria-label="Step ${i + 1} of ${fr.steps}"
                aria-pressed=${i === idx ? 'true' : 'false'}
                tabindex=${i === idx ? 0 : -1}
                title="step ${i + 1}: ${formatMs(fr.msStep)}"
                ?disabled=${this.busy}
                @click=${() => (this.selected = i)}
              >
                <canvas width="128" height="128" aria-hidden="true"></canvas><span aria-hidden="true">${i + 1}</span>
              </button>`,
            )}
          </div>`
          : nothing
      }
      <p class="caption" role="status" aria-live="polite" data-testid="progress-live">${
        this.caption ? html`<span data-testid="image-caption">${this.caption}</span>` : nothing
      }</p>
    </section>`;
  }

  /** Arrow keys, Home and End move the selection through the filmstrip and keep focus on the shown step. */
  private async onStripKey(e: KeyboardEvent) {
    if (this.busy || this.frames.length === 0) return;
    const at = this.shown ? this.frames.indexOf(this.shown) : this.frames.length - 1;
    const last = this.frames.length - 1;
    const to =
      e.key === 'ArrowLeft' || e.key === 'ArrowUp'
        ? Math.max(0, at - 1)
        : e.key === 'ArrowRight' || e.key === 'ArrowDown'
          ? Math.min(last, at + 1)
          : e.key === 'Home'
            ? 0
            : e.key === 'End'
              ? last
              : null;
    if (to === null) return;
    e.preventDefault();
    this.selected = to;
    await this.updateComplete;
    this.renderRoot.querySelectorAll<HTMLButtonElement>('.frame')[to]?.focus();
  }

  /** Decodes the shown step's own picture (a step whose preview was paced away) and shows it. */
  private async showOwn(f: Frame): Promise<void> {
    if (!this.decodeTokens) return;
    try {
      await ownPixels(f, this.decodeTokens);
      this.requestUpdate();
    } catch (e) {
      console.warn('image view: could not decode the step; the last image stays', e);
    }
  }

  /** The shown frame with its own picture (decoded now for a paced-away step; kept as it is when that fails). */
  private async shownOwn(): Promise<Frame | null> {
    const shown = this.shown;
    const decode = this.decodeTokens;
    return shown && decode ? ownPixels(shown, decode).catch(() => shown) : shown;
  }

  /** The shown step to the edit panel, with its own picture. */
  private async editShown() {
    const f = await this.shownOwn();
    if (!f?.tokens) return;
    const detail: PictureToEdit = {
      tokens: f.tokens,
      unknown: f.masked.some((m) => m) ? f.masked : undefined,
      image: f,
      label: `step ${this.frames.indexOf(f) + 1} of ${f.steps}`,
    };
    this.dispatchEvent(new CustomEvent('mm-edit-picture', { detail, bubbles: true, composed: true }));
  }

  private async download() {
    const f = await this.shownOwn();
    if (!f) return;
    // Saved at 4x, like the canvas shows it, with the settings in text chunks when they are known.
    const step = this.frames.indexOf(f) + 1;
    const png = await framePng(f, 4, this.facts, step);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([png as BlobPart], { type: 'image/png' }));
    a.download = this.facts ? imageFileName(this.facts, step) : `m-mamba-step${step}.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }

  /** Copies a link that reproduces the image (this page with its settings in the query) to the clipboard; where
   *  the clipboard is refused, the link is shown to copy by hand. */
  private async copyLink() {
    if (!this.facts) return;
    const link = withSharedSettings(location.href, this.facts);
    try {
      await navigator.clipboard.writeText(link);
      this.linkNote = 'Link copied.';
    } catch {
      this.linkNote = `Copy this link: ${link}`;
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-image-view': ImageView;
  }
  interface HTMLElementEventMap {
    'mm-edit-picture': CustomEvent<PictureToEdit>;
  }
}
