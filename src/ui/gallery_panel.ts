// <mm-gallery>: finished images kept on this device (src/ui/gallery_store.ts), newest first. Each thumbnail is a
// button that restores the image's settings into the prompt panel (fires `mm-gallery-restore` with the item), and
// each has an Edit button (`mm-gallery-edit` with the item: the app loads it into the edit panel) and a delete button
// (`mm-gallery-delete` with the id). Thumbnails are object URLs of the stored PNGs,
// revoked when the list changes or the panel goes away.
import { LitElement, css, html, type PropertyValues } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { GALLERY_LIMIT, galleryLabel, type GalleryItem } from './gallery_store';
import { card, smallButton } from './theme';

@customElement('mm-gallery')
export class GalleryPanel extends LitElement {
  @property({ attribute: false }) items: GalleryItem[] = [];
  /** A generation is running: Edit waits. */
  @property({ type: Boolean }) busy = false;
  /** Object URL per item id (made for the current list). */
  private urls = new Map<string, string>();

  static override styles = [
    card,
    smallButton,
    css`
      :host { display: block; }
      ul {
        list-style: none;
        margin: 0;
        padding: 0;
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(5.5rem, 1fr));
        gap: 0.6rem;
      }
      li { display: grid; gap: 0.25rem; min-width: 0; }
      .actions { display: flex; gap: 0.25rem; flex-wrap: wrap; }
      button.restore {
        padding: 0;
        border: 1px solid var(--mm-border);
        border-radius: 8px;
        overflow: hidden;
        background: var(--mm-surface-2);
        line-height: 0;
      }
      img { width: 100%; aspect-ratio: 1; image-rendering: pixelated; display: block; }
      .prompt { font-size: 0.75rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
      .muted { color: var(--mm-muted); font-size: 0.85rem; margin: 0; }
    `,
  ];

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (!changed.has('items')) return;
    const next = new Map<string, string>();
    for (const item of this.items)
      next.set(
        item.id,
        this.urls.get(item.id) ?? URL.createObjectURL(new Blob([item.png as BlobPart], { type: 'image/png' })),
      );
    for (const [id, url] of this.urls) if (!next.has(id)) URL.revokeObjectURL(url);
    this.urls = next;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
  }

  override render() {
    return html`<section class="card" aria-labelledby="gallery-h" data-testid="gallery">
      <h2 id="gallery-h">Your images</h2>
      ${
        this.items.length
          ? html`<p class="muted">Kept on this device (the newest ${GALLERY_LIMIT}). Pick one to use its settings again.</p>
            <ul data-testid="gallery-list">
              ${this.items.map(
                (item) => html`<li data-testid="gallery-item" data-id=${item.id}>
                  <button type="button" class="restore" data-testid="gallery-restore"
                    aria-label="Use the settings of ${galleryLabel(item)}"
                    title=${galleryLabel(item)} @click=${() => this.fire('mm-gallery-restore', item)}>
                    <img src=${this.urls.get(item.id) ?? ''} alt="" />
                  </button>
                  <span class="prompt" aria-hidden="true">${item.facts.prompt || '(no prompt)'}</span>
                  <span class="actions">
                    <button type="button" data-testid="gallery-edit" aria-label="Edit ${galleryLabel(item)}"
                      ?disabled=${this.busy} @click=${() => this.fire('mm-gallery-edit', item)}>Edit</button>
                    <button type="button" data-testid="gallery-delete" aria-label="Delete ${galleryLabel(item)}"
                      @click=${() => this.fire('mm-gallery-delete', item.id)}>Delete</button>
                  </span>
                </li>`,
              )}
            </ul>`
          : html`<p class="muted" data-testid="gallery-empty">Finished images are kept here, on this device.</p>`
      }
    </section>`;
  }

  private fire<K extends 'mm-gallery-restore' | 'mm-gallery-delete' | 'mm-gallery-edit'>(
    type: K,
    detail: HTMLElementEventMap[K]['detail'],
  ) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-gallery': GalleryPanel;
  }
  interface HTMLElementEventMap {
    'mm-gallery-restore': CustomEvent<GalleryItem>;
    'mm-gallery-delete': CustomEvent<string>;
    'mm-gallery-edit': CustomEvent<GalleryItem>;
  }
}
