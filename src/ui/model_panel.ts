// <mm-model-panel>: weights on this machine. While a model loads it shows a progress bar (bytes and percent of
// the download, or of the read from IndexedDB); below, the models cached in IndexedDB with their sizes, the
// browser's storage estimate, and a delete button per model that asks first (a modal dialog; Escape = keep) and
// then fires `mm-delete-model` with the id; then the generators not downloaded yet, with their download size and a
// Download button (fires `mm-model` with the id: the app downloads and loads it).
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';
import type { ModelInfo, StorageInfo } from '../worker/api';
import { formatBytes } from '../util/format';
import type { ConfirmDialog } from './confirm_dialog';
import './confirm_dialog';
import { card, smallButton } from './theme';

export interface LoadState {
  /** What is happening, e.g. "Downloading M-Mamba S". */
  label: string;
  loadedBytes: number;
  totalBytes: number;
  percent: number;
}

@customElement('mm-model-panel')
export class ModelPanel extends LitElement {
  @property({ attribute: false }) load: LoadState | null = null;
  @property({ attribute: false }) storage: StorageInfo | null = null;
  /** Names by model id (from the index). */
  @property({ attribute: false }) names: Record<string, string> = {};
  /** A warning about caching (quota full), shown until the next load. */
  @property() warning = '';
  /** Every model of the index (the ones not stored yet are offered for download). */
  @property({ attribute: false }) models: ModelInfo[] = [];
  /** The generator in use (its delete question says so); null when none. */
  @property() current: string | null = null;
  /** True while a model loads or an image is generated: Download waits. */
  @property({ type: Boolean }) busy = false;

  @query('mm-confirm-dialog') private confirm!: ConfirmDialog;

  static override styles = [
    card,
    smallButton,
    css`
      :host { display: block; }
      .load { margin-bottom: 1rem; }
      .load p {
        margin: 0 0 0.35rem;
        font-size: 0.85rem;
        display: flex;
        justify-content: space-between;
        gap: 0.5rem;
        flex-wrap: wrap;
      }
      .load .nums { color: var(--mm-muted); font-variant-numeric: tabular-nums; }
      progress { width: 100%; height: 0.6rem; accent-color: var(--mm-accent); }
      ul { list-style: none; margin: 0; padding: 0; }
      li {
        display: flex;
        align-items: center;
        gap: 0.6rem;
        padding: 0.4rem 0;
        border-top: 1px solid var(--mm-border);
        font-size: 0.88rem;
      }
      li .name { flex: 1; min-width: 0; overflow-wrap: anywhere; }
      li .size { color: var(--mm-muted); font-variant-numeric: tabular-nums; white-space: nowrap; }
      h3 { font-size: 0.8rem; font-weight: 600; color: var(--mm-muted); margin: 0.9rem 0 0.2rem; }
      .muted { color: var(--mm-muted); font-size: 0.85rem; margin: 0.5rem 0 0; }
      .warn {
        background: var(--mm-warn-bg);
        border: 1px solid var(--mm-warn-border);
        color: var(--mm-warn-fg);
        border-radius: 8px;
        padding: 0.5rem 0.7rem;
        font-size: 0.85rem;
        margin: 0 0 0.8rem;
      }
    `,
  ];

  override render() {
    const l = this.load;
    const s = this.storage;
    return html`<section class="card" aria-labelledby="models-h" data-testid="model-panel">
      <h2 id="models-h">Models on this device</h2>
      ${
        l
          ? html`<div class="load" data-testid="load-progress">
            <p><span>${l.label}</span><span class="nums"
              data-testid="load-bytes">${formatBytes(l.loadedBytes)} / ${formatBytes(l.totalBytes)} · ${l.percent.toFixed(0)}%</span></p>
            <progress max="100" .value=${l.percent} aria-label=${l.label}></progress>
          </div>`
          : nothing
      }
      ${this.warning ? html`<p class="warn" role="status" data-testid="cache-warning">${this.warning}</p>` : nothing}
      ${
        s === null
          ? html`<p class="muted">Reading storage…</p>`
          : html`${
              s.models.length
                ? html`<ul data-testid="cached-models">
                  ${s.models.map(
                    (m) => html`<li data-testid="cached-model" data-model=${m.id}>
                      <span class="name">${this.names[m.id] ?? m.id}</span>
                      <span class="size">${formatBytes(m.bytes)}</span>
                      <button type="button" data-testid="delete-model" aria-label="Delete ${m.id} from this device"
                        @click=${() => this.requestDelete(m.id)}>Delete</button>
                    </li>`,
                  )}
                </ul>`
                : html`<p class="muted" data-testid="no-cached">No model is stored yet; the first load downloads one.</p>`
            }
            ${this.renderMissing(s)}
            <p class="muted" data-testid="storage-estimate">
              ${
                s.usage !== null && s.quota !== null
                  ? `This site uses ${formatBytes(s.usage)} of ${formatBytes(s.quota)} the browser allows.`
                  : 'The browser gives no storage estimate.'
              }
            </p>`
      }
      <mm-confirm-dialog></mm-confirm-dialog>
    </section>`;
  }

  /** Generators not stored on this device yet, each with its download size and a Download button. */
  private renderMissing(s: StorageInfo) {
    const stored = new Set(s.models.map((m) => m.id));
    const missing = this.models.filter((m) => m.kind !== 'vq' && !stored.has(m.id));
    if (missing.length === 0) return nothing;
    return html`<h3>Not downloaded yet</h3>
      <ul data-testid="missing-models">
        ${missing.map(
          (m) => html`<li data-testid="missing-model" data-model=${m.id}>
            <span class="name">${m.name}</span>
            <span class="size">${formatBytes(m.bytes)}</span>
            <button type="button" data-testid="download-model"
              aria-label="Download ${m.name} (${formatBytes(m.bytes)}) and use it" ?disabled=${this.busy}
              @click=${() => this.dispatchEvent(new CustomEvent<string>('mm-model', { detail: m.id, bubbles: true, composed: true }))}>Download</button>
          </li>`,
        )}
      </ul>`;
  }

  private async requestDelete(id: string) {
    const name = this.names[id] ?? id;
    const size = this.storage?.models.find((m) => m.id === id)?.bytes;
    const inUse = id === this.current ? ' It is the model in use; the page keeps it until you switch or reload.' : '';
    const question = `Delete ${name}${size ? ` (${formatBytes(size)})` : ''} from this device? It is downloaded again when next used.${inUse}`;
    if (!(await this.confirm.ask(question, 'Delete'))) return;
    this.dispatchEvent(new CustomEvent<string>('mm-delete-model', { detail: id, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-model-panel': ModelPanel;
  }
  interface HTMLElementEventMap {
    'mm-delete-model': CustomEvent<string>;
  }
}
