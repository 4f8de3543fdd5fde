// <mm-mask-editor>: paint which tokens of a picture to re-generate, on its g×g token grid (16×16 for the shipped
// models). The picture is shown under a translucent mask; tools: brush (mark), eraser (unmark), rectangle, and the
// brush size; Invert and Clear act on the whole grid. Pointer events cover mouse, pen and touch (one finger paints;
// the stage takes no scrolling gestures). Keyboard: the stage is one tab stop with a cursor cell; arrow keys move
// it, Space or Enter applies the tool there (rectangle: first press sets a corner, the second fills), Shift+arrow
// paints while moving, I inverts, Delete clears.
// Controlled: `mask` (1 = re-generate) comes in as a property; each change is announced as `mm-mask-change`
// (detail: the new mask) for the owner to set back. The pure grid operations are in edit_mask.ts.
import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { brush, cellAt, emptyMask, fillRect, invertMask, markedCount } from './edit_mask';
import { paintFrame, type FramePixels } from './frame_png';
import { buttonLook } from './theme';

export type MaskTool = 'brush' | 'erase' | 'rect';
type Cell = { col: number; row: number };

@customElement('mm-mask-editor')
export class MaskEditor extends LitElement {
  /** The picture under the mask (null: an empty stage). */
  @property({ attribute: false }) image: FramePixels | null = null;
  /** Side of the token grid. */
  @property({ type: Number }) grid = 16;
  /** (grid²) 1 = re-generate that token. */
  @property({ attribute: false }) mask: Uint8Array = emptyMask(16);
  @property({ type: Boolean }) disabled = false;
  @state() private tool: MaskTool = 'brush';
  @state() private size = 1;
  @state() private cursor: Cell = { col: 0, row: 0 };
  /** Rectangle corner set by the pointer or the keyboard, and the rectangle's other corner while dragging. */
  @state() private anchor: Cell | null = null;
  @state() private dragTo: Cell | null = null;
  @state() private focused = false;
  private painting = false;

  @query('canvas.pic') private pic!: HTMLCanvasElement | null;
  @query('canvas.overlay') private overlay!: HTMLCanvasElement | null;

  static override styles = css`
    :host { display: block; }
    .tools {
      display: flex;
      flex-wrap: wrap;
      gap: 0.35rem;
      align-items: center;
      margin-bottom: 0.5rem;
      font-size: 0.85rem;
    }
    button { ${buttonLook} font-size: 0.8rem; padding: 0.3rem 0.65rem; }
    button[aria-pressed='true'] { outline: 2px solid var(--mm-accent); outline-offset: 1px; }
    button:disabled { opacity: 0.5; cursor: not-allowed; }
    select { font: inherit; }
    .count { color: var(--mm-muted); font-variant-numeric: tabular-nums; }
    .stage {
      position: relative;
      width: 100%;
      max-width: 384px;
      aspect-ratio: 1;
      border: 1px solid var(--mm-border);
      border-radius: 8px;
      overflow: hidden;
      background: var(--mm-surface-2);
      touch-action: none;
      cursor: crosshair;
    }
    .stage:focus-visible { outline: 2px solid var(--mm-accent); outline-offset: 2px; }
    canvas { position: absolute; inset: 0; width: 100%; height: 100%; image-rendering: pixelated; }
    .cell { position: absolute; box-sizing: border-box; border: 2px solid var(--mm-accent); pointer-events: none; }
    .rect { position: absolute; box-sizing: border-box; border: 2px dashed var(--mm-fg); pointer-events: none; }
    .hint { margin: 0.35rem 0 0; font-size: 0.75rem; color: var(--mm-muted); }
  `;

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('grid') && this.mask.length !== this.grid * this.grid) this.mask = emptyMask(this.grid);
  }

  protected override updated(): void {
    if (this.pic && this.image) paintFrame(this.pic, this.image);
    if (this.overlay) this.paintOverlay(this.overlay);
  }

  private paintOverlay(c: HTMLCanvasElement): void {
    const g = this.grid;
    c.width = g;
    c.height = g;
    const img = new ImageData(g, g);
    // translucent red: re-generated
    for (let i = 0; i < g * g; i++) if (this.mask[i]) img.data.set([219, 60, 90, 150], i * 4);
    c.getContext('2d')!.putImageData(img, 0, 0);
  }

  private set(next: Uint8Array): void {
    this.dispatchEvent(new CustomEvent<Uint8Array>('mm-mask-change', { detail: next, bubbles: true, composed: true }));
    this.mask = next;
  }

  private value(): 0 | 1 {
    return this.tool === 'erase' ? 0 : 1;
  }

  private cellOf(e: PointerEvent): Cell {
    const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
    return cellAt(e.clientX - r.left, e.clientY - r.top, r.width, r.height, this.grid);
  }

  private onDown(e: PointerEvent): void {
    if (this.disabled || e.button > 0) return;
    (e.currentTarget as HTMLElement).setPointerCapture?.(e.pointerId);
    const cell = this.cellOf(e);
    this.cursor = cell;
    if (this.tool === 'rect') {
      this.anchor = cell;
      this.dragTo = cell;
    } else {
      this.painting = true;
      this.set(brush(this.mask, this.grid, cell.col, cell.row, this.size, this.value()));
    }
  }

  private onMove(e: PointerEvent): void {
    if (this.disabled) return;
    const cell = this.cellOf(e);
    if (this.tool === 'rect' && this.anchor && this.dragTo) this.dragTo = cell;
    else if (this.painting) this.set(brush(this.mask, this.grid, cell.col, cell.row, this.size, this.value()));
  }

  private onUp(e: PointerEvent): void {
    if (this.tool === 'rect' && this.anchor && this.dragTo) {
      this.set(fillRect(this.mask, this.grid, this.anchor, this.cellOf(e), 1));
      this.anchor = null;
      this.dragTo = null;
    }
    this.painting = false;
  }

  private onKey(e: KeyboardEvent): void {
    if (this.disabled) return;
    const g = this.grid;
    const { col, row } = this.cursor;
    const moves: Record<string, Cell> = {
      ArrowLeft: { col: Math.max(0, col - 1), row },
      ArrowRight: { col: Math.min(g - 1, col + 1), row },
      ArrowUp: { col, row: Math.max(0, row - 1) },
      ArrowDown: { col, row: Math.min(g - 1, row + 1) },
      Home: { col: 0, row },
      End: { col: g - 1, row },
    };
    const to = moves[e.key];
    if (to) {
      e.preventDefault();
      this.cursor = to;
      if (e.shiftKey && this.tool !== 'rect') this.set(brush(this.mask, g, to.col, to.row, this.size, this.value()));
      return;
    }
    if (e.key === ' ' || e.key === 'Enter') {
      e.preventDefault();
      this.apply(this.cursor);
    } else if (e.key === 'i' || e.key === 'I') {
      e.preventDefault();
      this.set(invertMask(this.mask));
    } else if (e.key === 'Delete' || e.key === 'Backspace') {
      e.preventDefault();
      this.set(emptyMask(g));
    } else if (e.key === 'Escape' && this.anchor) {
      e.preventDefault();
      e.stopPropagation(); // a rectangle in progress is what Escape cancels here, not the generation
      this.anchor = null;
    }
  }

  /** The tool at one cell (keyboard): brush/eraser paint it; rectangle sets a corner, then fills. */
  private apply(cell: Cell): void {
    if (this.tool !== 'rect') {
      this.set(brush(this.mask, this.grid, cell.col, cell.row, this.size, this.value()));
    } else if (!this.anchor) {
      this.anchor = cell;
    } else {
      this.set(fillRect(this.mask, this.grid, this.anchor, cell, 1));
      this.anchor = null;
    }
  }

  private box(a: Cell, b: Cell, cls: string) {
    const g = this.grid;
    const pct = (v: number) => `${(v * 100) / g}%`;
    const c0 = Math.min(a.col, b.col);
    const r0 = Math.min(a.row, b.row);
    const style = `left:${pct(c0)};top:${pct(r0)};width:${pct(Math.abs(a.col - b.col) + 1)};height:${pct(Math.abs(a.row - b.row) + 1)}`;
    return html`<div class=${cls} style=${style}></div>`;
  }

  override render() {
    const n = markedCount(this.mask);
    const total = this.grid * this.grid;
    const toolButton = (t: MaskTool, label: string) =>
      html`<button type="button" data-testid="mask-tool-${t}" aria-pressed=${this.tool === t ? 'true' : 'false'} ?disabled=${this.disabled} @click=${() => {
        this.tool = t;
        this.anchor = null;
      }}>${label}</button>`;
    const rectEnd = this.anchor ? (this.dragTo ?? this.cursor) : null;
    return html`<div class="tools" role="toolbar" aria-label="Mask tools">
        ${toolButton('brush', 'Brush')} ${toolButton('erase', 'Eraser')} ${toolButton('rect', 'Rectangle')}
        <label>Size
          <select data-testid="mask-size" .value=${String(this.size)} ?disabled=${this.disabled}
            @change=${(e: Event) => (this.size = Number((e.target as HTMLSelectElement).value))}>
            <option value="1">1</option><option value="2">2</option><option value="3">3</option>
          </select></label>
        <button type="button" data-testid="mask-invert" ?disabled=${this.disabled}
          @click=${() => this.set(invertMask(this.mask))}>Invert</button>
        <button type="button" data-testid="mask-clear" ?disabled=${this.disabled}
          @click=${() => this.set(emptyMask(this.grid))}>Clear</button>
        <span class="count" data-testid="mask-count" aria-live="polite">${n} of ${total} tokens to re-generate</span>
      </div>
      <div
        class="stage"
        data-testid="mask-stage"
        tabindex=${this.disabled ? -1 : 0}
        role="application"
        aria-label="Mask on the ${this.grid}×${this.grid} token grid: arrow keys move, Space marks with the tool, Shift+arrow paints, I inverts, Delete clears. Cursor at column ${this.cursor.col + 1}, row ${this.cursor.row + 1}, ${this.mask[this.cursor.row * this.grid + this.cursor.col] ? 'marked' : 'kept'}."
        @pointerdown=${this.onDown}
        @pointermove=${this.onMove}
        @pointerup=${this.onUp}
        @pointercancel=${() => {
          this.painting = false;
          this.anchor = null;
          this.dragTo = null;
        }}
        @keydown=${this.onKey}
        @focus=${() => (this.focused = true)}
        @blur=${() => (this.focused = false)}
      >
        ${this.image ? html`<canvas class="pic" aria-hidden="true"></canvas>` : nothing}
        <canvas class="overlay" data-testid="mask-overlay-edit" aria-hidden="true"></canvas>
        ${this.focused ? this.box(this.cursor, this.cursor, 'cell') : nothing}
        ${this.anchor && rectEnd ? this.box(this.anchor, rectEnd, 'rect') : nothing}
      </div>
      <p class="hint">Red tokens are re-generated; the rest of the picture is kept.</p>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-mask-editor': MaskEditor;
  }
  interface HTMLElementEventMap {
    'mm-mask-change': CustomEvent<Uint8Array>;
  }
}
