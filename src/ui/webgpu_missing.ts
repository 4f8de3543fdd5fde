// <mm-webgpu-missing>: explains that WebGPU is not available here and how to get it. Pure presentation.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { card } from './theme';

@customElement('mm-webgpu-missing')
export class WebGpuMissing extends LitElement {
  /** The engine's own explanation (e.g. "no GPU adapter was found"), shown under the advice. */
  @property() detail = '';
  /** False when the page is not a secure context (WebGPU needs https or localhost). */
  @property({ type: Boolean }) secure = true;

  static override styles = [
    card,
    css`
      :host { display: block; }
      .card {
        background: var(--mm-warn-bg);
        border-color: var(--mm-warn-border);
        color: var(--mm-warn-fg);
      }
      h2.title {
        margin: 0 0 0.4rem;
        font-size: 1.15rem;
        letter-spacing: 0;
        text-transform: none;
        color: inherit;
      }
      p { margin: 0.4rem 0; }
      ul { margin: 0.5rem 0 0.4rem; padding-left: 1.2rem; }
      li { margin: 0.25rem 0; }
      code {
        font-family: var(--mm-mono);
        font-size: 0.85em;
        background: rgb(127 127 127 / 15%);
        padding: 0.05rem 0.3rem;
        border-radius: 5px;
        overflow-wrap: anywhere;
      }
      .detail { font-size: 0.85rem; opacity: 0.85; overflow-wrap: anywhere; }
    `,
  ];

  override render() {
    return html`
      <section class="card" role="alert" data-testid="webgpu-missing">
        <h2 class="title">WebGPU is missing</h2>
        <p>
          This page runs the model on your own GPU through WebGPU, and this browser does not offer it. To use it:
        </p>
        <ul>
          <li><strong>Chrome or Edge 113+</strong> on Windows, macOS or ChromeOS (on by default); Chrome 121+ on Android 12+.</li>
          <li>
            <strong>Linux:</strong> Chrome or Chromium with <code>chrome://flags/#enable-unsafe-webgpu</code> enabled
            (and <code>chrome://flags/#enable-vulkan</code>), then restart the browser.
          </li>
          <li><strong>Safari 26+</strong> on macOS, iOS and iPadOS.</li>
          <li><strong>Firefox 141+</strong> on Windows; elsewhere Firefox Nightly.</li>
        </ul>
        ${
          this.secure
            ? nothing
            : html`<p>WebGPU also needs a secure page: open this app over <code>https://</code> or from <code>localhost</code>.</p>`
        }
        ${this.detail ? html`<p class="detail">Details: ${this.detail}</p>` : nothing}
      </section>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-webgpu-missing': WebGpuMissing;
  }
}
