// <mm-finetune-adapters>: the saved adapters of the loaded model: name, the prompts it applies to (its word:
// adapter_scope.ts), rank, steps, size, whether it is only
// in memory (storage was full); delete (asked first in a modal dialog: Escape or Cancel keeps it) and export
// (.safetensors download) per adapter, and import of an adapter file. It fires events and shows what the panel tells it (`error`); it talks to no worker itself.
//   mm-adapter-delete  detail: name
//   mm-adapter-export  detail: name
//   mm-adapter-import  detail: File
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';
import type { AdapterInfoRow } from '../worker/api';
import { formatBytes } from '../util/format';
import { adapterScope } from './adapter_scope';
import type { ConfirmDialog } from './confirm_dialog';
import { smallButton } from './theme';
import './confirm_dialog';

@customElement('mm-finetune-adapters')
export class FineTuneAdapters extends LitElement {
  @property({ attribute: false }) adapters: AdapterInfoRow[] = [];
  @property() error = '';
  @property() note = '';
  @property({ type: Boolean }) disabled = false;
  @query('mm-confirm-dialog') private confirm!: ConfirmDialog;

  static override styles = [
    smallButton,
    css`
    :host { display: block; }
    h3 { font-size: 0.9rem; margin: 0 0 0.4rem; }
    ul { list-style: none; margin: 0; padding: 0; }
    li {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.4rem 0.6rem;
      padding: 0.4rem 0;
      border-top: 1px solid var(--mm-border);
      font-size: 0.85rem;
    }
    .name { flex: 1 1 8rem; min-width: 0; overflow-wrap: anywhere; font-weight: 600; }
    .meta { color: var(--mm-muted); font-size: 0.78rem; font-variant-numeric: tabular-nums; }
    .scope { flex-basis: 100%; order: 1; font-size: 0.8rem; overflow-wrap: anywhere; }
    .mem { color: var(--mm-warn-fg); font-size: 0.75rem; }
    label.import { display: inline-block; margin-top: 0.6rem; }
    label.import input { position: absolute; width: 1px; height: 1px; opacity: 0; }
    .muted { color: var(--mm-muted); font-size: 0.85rem; margin: 0.3rem 0; }
    .error {
      background: var(--mm-warn-bg);
      border: 1px solid var(--mm-warn-border);
      color: var(--mm-warn-fg);
      border-radius: 8px;
      padding: 0.45rem 0.6rem;
      font-size: 0.82rem;
      margin: 0.5rem 0 0;
      overflow-wrap: anywhere;
    }
    .note { color: var(--mm-muted); font-size: 0.82rem; margin: 0.5rem 0 0; }
  `,
  ];

  override render() {
    return html`<h3>Saved adapters</h3>
      ${
        this.adapters.length
          ? html`<ul data-testid="adapter-list">
            ${this.adapters.map(
              (a) => html`<li data-testid="adapter-row" data-name=${a.name}>
                <span class="name">${a.name}</span>
                <span class="meta">rank ${a.rank} · ${a.steps} steps · ${formatBytes(a.byteLength)}</span>
                <span class="scope" data-testid="adapter-row-scope">${adapterScope(a.word)}</span>
                ${a.persisted ? nothing : html`<span class="mem" title="Storage was full: this adapter is gone when the page closes">memory only</span>`}
                <button type="button" data-testid="adapter-export" ?disabled=${this.disabled}
                  @click=${() => this.fire('mm-adapter-export', a.name)}>Export</button>
                <button type="button" data-testid="adapter-delete" aria-label="Delete adapter ${a.name}"
                  ?disabled=${this.disabled} @click=${() => void this.askDelete(a)}>Delete</button>
              </li>`,
            )}
          </ul>`
          : html`<p class="muted" data-testid="no-adapters">No adapter yet: train one above, or import a .safetensors adapter file.</p>`
      }
      <label class="import small-button">Import adapter…<input data-testid="ft-import-input" type="file"
        accept=".safetensors,application/octet-stream" ?disabled=${this.disabled} @change=${this.onImport} /></label>
      ${this.error ? html`<p class="error" role="alert" data-testid="adapter-error">${this.error}</p>` : nothing}
      ${this.note ? html`<p class="note" role="status" data-testid="adapter-note">${this.note}</p>` : nothing}
      <mm-confirm-dialog></mm-confirm-dialog>`;
  }

  private async askDelete(a: AdapterInfoRow): Promise<void> {
    const where = a.persisted ? 'from this browser' : 'from memory';
    const question = `Delete the adapter "${a.name}" ${where}? It cannot be undone unless you exported it.`;
    if (await this.confirm.ask(question, 'Delete')) this.fire('mm-adapter-delete', a.name);
  }

  private onImport(e: Event): void {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (file) this.fire('mm-adapter-import', file);
  }

  private fire<T>(type: string, detail: T): void {
    this.dispatchEvent(new CustomEvent<T>(type, { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-finetune-adapters': FineTuneAdapters;
  }
  interface HTMLElementEventMap {
    'mm-adapter-delete': CustomEvent<string>;
    'mm-adapter-export': CustomEvent<string>;
    'mm-adapter-import': CustomEvent<File>;
  }
}
