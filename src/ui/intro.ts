// <mm-intro>: the first thing the page says about itself: what it draws (128 px emoji and icons), that it runs on
// this GPU and nothing leaves the page, and what M-Mamba is in one sentence, linking the local about page.
import { LitElement, css, html } from 'lit';
import { customElement } from 'lit/decorators.js';

@customElement('mm-intro')
export class MmIntro extends LitElement {
  static override styles = css`
    :host { display: block; }
    p { margin: 0 0 1rem; font-size: 0.92rem; color: var(--mm-fg); max-width: 62rem; }
    a { color: var(--mm-accent); }
    a:focus-visible { outline: 2px solid var(--mm-accent); outline-offset: 2px; }
  `;

  override render() {
    return html`<p data-testid="intro">
      Type a short description and get a 128&thinsp;px picture in the style of emoji and icons (“a red heart”, “cat
      face”). It runs on this device’s GPU: the model is downloaded once, and your prompts and images never leave the
      page. M-Mamba is a small masked image generator that fills in a grid of image tokens over a few steps with
      Mamba state-space scans instead of attention (<a href="about.html" data-testid="about-link">about M-Mamba</a>).
    </p>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-intro': MmIntro;
  }
}
