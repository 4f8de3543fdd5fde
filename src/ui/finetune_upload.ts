// <mm-finetune-upload>: the fine-tuning pictures. Drag and drop (or pick) PNG/JPEG/WebP images, optionally with
// a captions file (.txt `filename: caption` lines or plain lines in order, or .json {filename: caption}; a named
// caption that matches no picture is listed, never given to another one);
// a preview grid with a caption field (a textarea that wraps and grows: the whole caption shows) and a remove button
// per picture; files that are refused are listed
// with the reason, and the rest proceed. Files over the size limits are judged on their first bytes, unread; an
// image's pixel count is read from its header before anything decodes it; thumbnails carry the sniffed type.
// It owns the list of pairs; the panel reads `pairs` and reports the worker's verdicts back with `applyReport`.
// Fires `mm-ft-changed` when pictures are added or removed (captions edits do not need the worker), and
// `mm-ft-captions` whenever the captions as they stand change (typed, from a captions file, pictures added, removed
// or refused): the panel's "New word" follows them.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import {
  captionWarning,
  classifyFile,
  imageBlob,
  imageHeaderProblem,
  matchCaptions,
  MAX_CAPTION_FILE_BYTES,
  MAX_IMAGE_BYTES,
  MAX_PAIRS,
  parseCaptionFile,
  type CaptionSource,
} from '../finetune/upload';
import type { DatasetReport } from '../worker/api';
import { card } from './theme';

export interface UploadPair {
  id: string;
  name: string;
  bytes: ArrayBuffer;
  caption: string;
  /** True once the person typed in this caption field (a captions file then leaves it alone). */
  edited: boolean;
  /** Object URL of the original file, for the thumbnail. */
  url: string;
  /** 'checking' until the worker has decoded and encoded it. */
  status: 'checking' | 'ready';
}

export interface RejectedFile {
  name: string;
  reason: string;
}

let nextId = 1;

@customElement('mm-finetune-upload')
export class FineTuneUpload extends LitElement {
  @property({ type: Boolean }) disabled = false;
  @state() private items: UploadPair[] = [];
  @state() private rejected: RejectedFile[] = [];
  @state() private notes: string[] = [];
  @state() private over = false;
  private captionSources: CaptionSource[] = [];

  static override styles = [
    card,
    css`
      :host { display: block; }
      .drop {
        border: 2px dashed var(--mm-border);
        border-radius: 12px;
        padding: 1rem;
        text-align: center;
        color: var(--mm-muted);
        font-size: 0.9rem;
        background: var(--mm-surface-2);
      }
      .drop.over { border-color: var(--mm-accent); color: var(--mm-fg); }
      .drop label {
        color: var(--mm-accent);
        font-weight: 600;
        cursor: pointer;
        text-decoration: underline;
        border-radius: 4px;
      }
      .drop label:focus-within { outline: 2px solid var(--mm-accent); outline-offset: 2px; }
      .drop input { position: absolute; width: 1px; height: 1px; opacity: 0; }
      .grid {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(8.5rem, 1fr));
        gap: 0.6rem;
        margin-top: 0.8rem;
        padding: 0;
        list-style: none;
      }
      li {
        border: 1px solid var(--mm-border);
        border-radius: 10px;
        padding: 0.4rem;
        display: grid;
        gap: 0.35rem;
        min-width: 0;
        position: relative;
      }
      li.checking img { opacity: 0.55; }
      img { width: 100%; aspect-ratio: 1; object-fit: cover; border-radius: 6px; background: #fff; display: block; }
      .remove {
        position: absolute;
        top: 0.7rem;
        right: 0.7rem;
        width: 1.7rem;
        height: 1.7rem;
        border-radius: 50%;
        border: 1px solid var(--mm-border);
        background: var(--mm-surface);
        color: var(--mm-fg);
        cursor: pointer;
        font: inherit;
        line-height: 1;
      }
      textarea.caption {
        /* grows with its text (field-sizing where the browser has it, else fit() sets the height): the whole
           caption is always visible, never cut */
        field-sizing: content;
        resize: none;
        overflow: hidden;
        min-height: 2.2em;
        line-height: 1.3;
        overflow-wrap: anywhere;
        font: inherit;
        font-size: 0.8rem;
        padding: 0.35rem 0.45rem;
        border: 1px solid var(--mm-border);
        border-radius: 6px;
        background: var(--mm-surface-2);
        color: inherit;
        min-width: 0;
        width: 100%;
        box-sizing: border-box;
      }
      .hint { font-size: 0.72rem; color: var(--mm-warn-fg); }
      .name {
        font-size: 0.72rem;
        color: var(--mm-muted);
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      .rejected, .notes {
        margin: 0.7rem 0 0;
        padding: 0.5rem 0.7rem;
        border-radius: 8px;
        font-size: 0.82rem;
        list-style: none;
      }
      .rejected { background: var(--mm-warn-bg); border: 1px solid var(--mm-warn-border); color: var(--mm-warn-fg); }
      .notes { color: var(--mm-muted); padding-left: 0; }
      .rejected li, .notes li { border: 0; padding: 0.1rem 0; display: block; overflow-wrap: anywhere; }
      .count { font-size: 0.8rem; color: var(--mm-muted); margin: 0.5rem 0 0; }
      button.clear {
        font: inherit;
        font-size: 0.75rem;
        background: none;
        border: 0;
        color: var(--mm-accent);
        cursor: pointer;
        padding: 0;
        margin-left: 0.4rem;
      }
    `,
  ];

  /** The pairs as they stand (captions as typed). */
  get pairs(): UploadPair[] {
    return this.items;
  }

  /** Takes the worker's verdicts: accepted pairs are ready; rejected ones leave the grid for the refused list. */
  applyReport(report: DatasetReport): void {
    const verdict = new Map(report.items.map((r) => [r.id, r]));
    const refused: RejectedFile[] = [];
    this.items = this.items.filter((it) => {
      const v = verdict.get(it.id);
      if (v?.status === 'rejected') {
        refused.push({ name: it.name, reason: v.reason });
        URL.revokeObjectURL(it.url);
        return false;
      }
      if (v?.status === 'accepted') it.status = 'ready';
      return true;
    });
    if (refused.length) this.rejected = [...this.rejected, ...refused];
    this.requestUpdate();
    if (refused.length) this.captionsChanged();
  }

  override updated(): void {
    // Where field-sizing is unknown, each caption box is sized to its text after every render.
    if (CSS.supports('field-sizing', 'content')) return;
    for (const box of this.renderRoot.querySelectorAll<HTMLTextAreaElement>('textarea.caption')) {
      box.style.height = 'auto';
      box.style.height = `${box.scrollHeight + 2}px`;
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    for (const it of this.items) URL.revokeObjectURL(it.url);
  }

  override render() {
    return html`<div
        class="drop ${this.over ? 'over' : ''}"
        data-testid="ft-drop"
        @dragover=${(e: DragEvent) => {
          e.preventDefault();
          this.over = true;
        }}
        @dragleave=${() => (this.over = false)}
        @drop=${this.onDrop}
      >
        Drop 8–32 pictures of the new thing here (PNG, JPEG or WebP), with a captions file if you have one, or
        <label>choose files<input data-testid="ft-file-input" type="file" multiple
          accept="image/png,image/jpeg,image/webp,.txt,.json" ?disabled=${this.disabled} @change=${this.onPick}
          /></label>.
      </div>
      ${
        this.rejected.length
          ? html`<div role="status" data-testid="ft-rejected-status">
            <ul class="rejected" data-testid="ft-rejected-list">
              ${this.rejected.map((r) => html`<li data-testid="ft-rejected"><strong>${r.name}</strong>: ${r.reason}</li>`)}
              <li><button type="button" class="clear" @click=${() => (this.rejected = [])}>Dismiss</button></li>
            </ul>
          </div>`
          : nothing
      }
      ${this.notes.length ? html`<ul class="notes" data-testid="ft-notes">${this.notes.map((n) => html`<li>${n}</li>`)}</ul>` : nothing}
      ${
        this.items.length
          ? html`<p class="count" data-testid="ft-count">${this.items.length} picture${this.items.length === 1 ? '' : 's'}</p>
            <ul class="grid">
              ${this.items.map(
                (it) => html`<li class=${it.status} data-testid="ft-item" data-status=${it.status}>
                  <img src=${it.url} alt=${it.name} />
                  <button type="button" class="remove" data-testid="ft-remove" aria-label="Remove ${it.name}"
                    ?disabled=${this.disabled} @click=${() => this.removePair(it.id)}>×</button>
                  <span class="name" title=${it.name}>${it.name}</span>
                  <textarea
                    class="caption"
                    data-testid="ft-caption"
                    aria-label="Caption of ${it.name}"
                    placeholder="caption, e.g. a zorblat"
                    rows="1"
                    .value=${it.caption}
                    ?disabled=${this.disabled}
                    @keydown=${(e: KeyboardEvent) => {
                      if (e.key === 'Enter') e.preventDefault(); // a caption is one line (it wraps to show all)
                    }}
                    @input=${(e: Event) => {
                      const box = e.target as HTMLTextAreaElement;
                      it.caption = box.value.replace(/[\r\n]+/g, ' ');
                      if (box.value !== it.caption) box.value = it.caption;
                      it.edited = true;
                      this.requestUpdate();
                      this.captionsChanged();
                    }}
                  ></textarea>
                  ${captionWarning(it.caption) ? html`<span class="hint" data-testid="ft-caption-hint" title=${captionWarning(it.caption)}>No caption yet</span>` : nothing}
                </li>`,
              )}
            </ul>`
          : nothing
      }`;
  }

  private onDrop(e: DragEvent): void {
    e.preventDefault();
    this.over = false;
    if (this.disabled) return;
    void this.addFiles([...(e.dataTransfer?.files ?? [])]);
  }

  private onPick(e: Event): void {
    const input = e.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = '';
    void this.addFiles(files);
  }

  private removePair(id: string): void {
    const it = this.items.find((x) => x.id === id);
    if (it) URL.revokeObjectURL(it.url);
    this.items = this.items.filter((x) => x.id !== id);
    this.changed();
  }

  private changed(): void {
    this.dispatchEvent(new CustomEvent('mm-ft-changed', { bubbles: true, composed: true }));
    this.captionsChanged();
  }

  private captionsChanged(): void {
    this.dispatchEvent(new CustomEvent('mm-ft-captions', { bubbles: true, composed: true }));
  }

  /** Reads the files, refuses what is not an image or a captions file (with why), applies captions. */
  async addFiles(files: File[]): Promise<void> {
    const added: UploadPair[] = [];
    const refused: RejectedFile[] = [];
    const notes: string[] = [];
    let newCaptions = false;
    for (const f of files) {
      let bytes: ArrayBuffer;
      try {
        // A file over any limit is judged on its first bytes alone: a huge drop is never read whole.
        const tooBig = f.size > Math.max(MAX_IMAGE_BYTES, MAX_CAPTION_FILE_BYTES);
        bytes = await (tooBig ? f.slice(0, 16) : f).arrayBuffer();
      } catch (e) {
        refused.push({ name: f.name, reason: `could not be read (${e instanceof Error ? e.message : String(e)})` });
        continue;
      }
      const verdict = classifyFile(f.name, f.size, new Uint8Array(bytes, 0, Math.min(16, bytes.byteLength)));
      const headerProblem = verdict.kind === 'image' ? imageHeaderProblem(new Uint8Array(bytes), verdict.format) : '';
      if (verdict.kind === 'rejected') refused.push({ name: f.name, reason: verdict.reason });
      else if (headerProblem) refused.push({ name: f.name, reason: headerProblem });
      else if (verdict.kind === 'captions') {
        const src = parseCaptionFile(f.name, new TextDecoder().decode(bytes));
        notes.push(...src.problems);
        if (src.byName.size || src.ordered.length) {
          this.captionSources.push(src);
          newCaptions = true;
          notes.push(
            `${f.name}: ${src.byName.size + src.ordered.length} caption${src.byName.size + src.ordered.length === 1 ? '' : 's'} read.`,
          );
        } else if (!src.problems.length) notes.push(`${f.name}: no captions in it.`);
      } else if (this.items.length + added.length >= MAX_PAIRS)
        refused.push({ name: f.name, reason: `only ${MAX_PAIRS} pictures fit one run` });
      else
        added.push({
          id: `p${nextId++}`,
          name: f.name,
          bytes,
          caption: '',
          edited: false,
          // The sniffed type, never f.type: a PNG named x.html must not become an HTML page of this origin.
          url: URL.createObjectURL(imageBlob(bytes, verdict.format)),
          status: 'checking',
        });
    }
    const all = [...this.items, ...added];
    if (newCaptions || added.length) {
      // Captions from files go to every picture whose field the person has not typed in.
      const { captions: fromFiles, unmatched } = matchCaptions(
        all.map((p) => p.name),
        this.captionSources,
      );
      all.forEach((p, i) => {
        if (!p.edited && fromFiles[i]) p.caption = fromFiles[i]!;
      });
      const shown = unmatched.slice(0, 8);
      for (const u of shown) notes.push(`${u.replace(/: /, ': no picture is named "')}"; its caption was not used.`);
      if (unmatched.length > shown.length)
        notes.push(`…and ${unmatched.length - shown.length} more captions name no picture.`);
    }
    this.items = all;
    if (refused.length) this.rejected = [...this.rejected, ...refused];
    this.notes = notes;
    if (added.length) this.changed();
    else if (newCaptions) this.captionsChanged();
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-finetune-upload': FineTuneUpload;
  }
  interface HTMLElementEventMap {
    'mm-ft-changed': CustomEvent<void>;
    'mm-ft-captions': CustomEvent<void>;
  }
}
