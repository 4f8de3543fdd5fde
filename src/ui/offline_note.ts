// <mm-offline-note>: a one-line note shown while the page runs from its caches (navigator.onLine is false, or
// the service worker answered from its cache because a network fetch failed). State comes from src/offline.ts.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { onOfflineChange } from '../offline';

@customElement('mm-offline-note')
export class MmOfflineNote extends LitElement {
  @state() private offline = false;
  private unsubscribe: (() => void) | null = null;

  static override styles = css`
    :host { display: block; }
    p {
      margin: 0 0 1rem;
      padding: 0.45rem 0.8rem;
      border-radius: 10px;
      font-size: 0.88rem;
      background: var(--mm-surface-2);
      border: 1px solid var(--mm-border);
      color: var(--mm-muted);
    }
  `;

  override connectedCallback(): void {
    super.connectedCallback();
    this.unsubscribe = onOfflineChange((off) => (this.offline = off));
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  override render() {
    return this.offline
      ? html`<p role="status" data-testid="offline-note">Offline — running from the cache.</p>`
      : nothing;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-offline-note': MmOfflineNote;
  }
}
