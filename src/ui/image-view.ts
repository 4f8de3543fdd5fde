// <mm-image-view>: the generated image. A 128x128 canvas scaled up with pixelated rendering shows the selected
// step (the newest while generating), an optional overlay marks the tokens still masked (16x16 grid from the
// step's `masked`), a filmstrip keeps every step (click one to show it), and Download PNG saves the shown step,
// named after its settings (`facts`) and carrying them in PNG text chunks (src/ui/image-file.ts).
// Pure presentation: frames come in as plain data, no GPU here.
import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { imageFileName, imageTextEntries, type ImageFacts } from './image-file';
import { withPngText } from './png-text';
import { buttonLook, card } from './theme';

export interface Frame {
  step: number;
  steps: number;
  /** RGBA8, width*height*4. */
  pixels: Uint8ClampedArray;
  width: number;
  height: number;
  /** (16*16) 1 = still masked. */
  masked: Uint8Array;
  msStep: number;
}

/** "85 ms" below a second, "1.4 s" above. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function paint(canvas: HTMLCanvasElement, f: Frame): void {
  if (canvas.width !== f.width) canvas.width = f.width;
  if (canvas.height !== f.height) canvas.height = f.height;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(f.pixels), f.width, f.height), 0, 0);
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

/** Set once per page load when the first generated step is painted into the main canvas. */
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
  /** Index of the shown frame; -1 = the newest. */
  @state() private selected = -1;
  @state() private overlay = false;

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
      .empty { position: absolute; inset: 0; display: grid; place-items: center; color: var(--mm-muted); font-size: 0.9rem; text-align: center; }
      .empty span { background: var(--mm-surface); padding: 0.3rem 0.6rem; border-radius: 8px; margin: 1rem; }
      .bar { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem; margin: 0.7rem 0 0.3rem; font-size: 0.85rem; }
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
      .frame canvas { width: 52px; height: 52px; image-rendering: pixelated; border-radius: 4px; background: var(--mm-surface-2); }
      .caption { margin: 0.3rem 0 0; font-size: 0.85rem; color: var(--mm-muted); }
    `,
  ];

  /** The frame on the canvas (selected, else the newest). */
  get shown(): Frame | null {
    if (this.frames.length === 0) return null;
    const i = this.selected >= 0 && this.selected < this.frames.length && !this.busy ? this.selected : this.frames.length - 1;
    return this.frames[i] ?? null;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    // A new generation (fewer frames than before) shows the newest again.
    const prev = changed.get('frames') as Frame[] | undefined;
    if (prev && this.frames.length < prev.length) this.selected = -1;
  }

  protected override updated(): void {
    const f = this.shown;
    if (f && this.main) {
      paint(this.main, f);
      // performance mark of the first step image on screen since navigation (bench/first-image.ts reads it)
      if (performance.getEntriesByName(FIRST_IMAGE_MARK).length === 0) performance.mark(FIRST_IMAGE_MARK);
    }
    if (f && this.mask) paintMask(this.mask, f.masked);
    // Thumbnails: paint the ones not painted yet (each canvas keeps its frame's step in a data attribute).
    const thumbs = this.renderRoot.querySelectorAll<HTMLCanvasElement>('.frame canvas');
    thumbs.forEach((c, i) => {
      const fr = this.frames[i];
      if (fr && c.dataset.painted !== String(fr.step) + '/' + fr.steps + '/' + this.frames.length) {
        paint(c, fr);
        c.dataset.painted = String(fr.step) + '/' + fr.steps + '/' + this.frames.length;
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
        ${f
          ? html`<canvas class="main" data-testid="canvas" width="128" height="128" role="img" aria-label="generated image, step ${idx + 1} of ${f.steps}"></canvas>
              ${this.overlay ? html`<canvas class="mask" data-testid="mask-overlay"></canvas>` : nothing}`
          : html`<div class="empty"><span>Your image appears here, token by token.</span></div>`}
      </div>
      <div class="bar">
        <span class="grow" data-testid="step-info"
          >${f
            ? html`step ${idx + 1}/${f.steps} · ${formatMs(f.msStep)}/step · ${f.masked.reduce((s, m) => s + m, 0)} masked`
            : 'no image yet'}</span
        >
        <label><input type="checkbox" data-testid="mask-toggle" .checked=${this.overlay} @change=${(e: Event) => (this.overlay = (e.target as HTMLInputElement).checked)} /> Show masked tokens</label>
        <button type="button" data-testid="download-png" ?disabled=${!f || this.busy} @click=${this.download}>Download PNG</button>
      </div>
      ${this.frames.length
        ? html`<div class="strip" data-testid="filmstrip" aria-label="every step">
            ${this.frames.map(
              (fr, i) => html`<button
                type="button"
                class="frame ${i === idx ? 'on' : ''}"
                data-testid="filmstrip-frame"
                title="step ${i + 1}: ${formatMs(fr.msStep)}"
                ?disabled=${this.busy}
                @click=${() => (this.selected = i)}
              >
                <canvas width="128" height="128"></canvas>${i + 1}
              </button>`,
            )}
          </div>`
        : nothing}
      ${this.caption ? html`<p class="caption" data-testid="image-caption">${this.caption}</p>` : nothing}
    </section>`;
  }

  private download() {
    const f = this.shown;
    if (!f) return;
    // Saved at 4x with nearest-neighbour scaling, like the canvas shows it.
    const src = document.createElement('canvas');
    paint(src, f);
    const out = document.createElement('canvas');
    out.width = f.width * 4;
    out.height = f.height * 4;
    const g = out.getContext('2d')!;
    g.imageSmoothingEnabled = false;
    g.drawImage(src, 0, 0, out.width, out.height);
    const step = this.frames.indexOf(f) + 1;
    const facts = this.facts;
    out.toBlob(async (blob) => {
      if (!blob) return;
      const png = facts ? new Blob([withPngText(new Uint8Array(await blob.arrayBuffer()), imageTextEntries(facts, step))], { type: 'image/png' }) : blob;
      const a = document.createElement('a');
      a.href = URL.createObjectURL(png);
      a.download = facts ? imageFileName(facts, step) : `m-mamba-step${step}.png`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    }, 'image/png');
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-image-view': ImageView;
  }
}
