// Shared design tokens and base styles for the Lit components. Custom properties are set once on <mm-app>
// and inherit through every shadow root; components only read them.
import { css } from 'lit';

/** Colour, spacing and type tokens (light by default, dark when the OS asks for it). */
export const tokens = css`
  :host {
    --mm-bg: #f6f7fb;
    --mm-surface: #ffffff;
    --mm-surface-2: #f0f2f8;
    --mm-border: #dde1ec;
    /* Borders that identify a control (fields, checkboxes): at least 3:1 against the surfaces (WCAG 1.4.11). */
    --mm-field-border: #7c8397;
    --mm-fg: #1b1e28;
    --mm-muted: #5d6477;
    --mm-accent: #5b4bdb;
    --mm-accent-fg: #ffffff;
    --mm-ok: #15803d;
    --mm-warn-bg: #fff7e6;
    --mm-warn-border: #f2c46d;
    --mm-warn-fg: #6b4500;
    --mm-radius: 14px;
    --mm-shadow: 0 1px 2px rgb(20 24 40 / 6%), 0 4px 16px rgb(20 24 40 / 6%);
    --mm-mono: ui-monospace, 'SF Mono', 'Cascadia Code', 'JetBrains Mono', Menlo, Consolas, monospace;
  }
  @media (prefers-color-scheme: dark) {
    :host {
      --mm-bg: #12141b;
      --mm-surface: #1a1d27;
      --mm-surface-2: #222634;
      --mm-border: #2e3345;
      --mm-field-border: #6b7390;
      --mm-fg: #e7e9f0;
      --mm-muted: #9aa1b5;
      --mm-accent: #8b7dff;
      --mm-accent-fg: #12141b;
      --mm-ok: #4ade80;
      --mm-warn-bg: #2b2412;
      --mm-warn-border: #7a5a1c;
      --mm-warn-fg: #f4d38b;
      --mm-shadow: 0 1px 2px rgb(0 0 0 / 30%), 0 4px 16px rgb(0 0 0 / 25%);
    }
  }
`;

/** A raised panel with a heading, used by every section of the page. It also carries the page's one focus style
 *  (an accent ring, 3:1 or more against every surface), so every panel's controls show focus the same way. */
export const card = css`
  :focus-visible {
    outline: 2px solid var(--mm-accent);
    outline-offset: 2px;
  }
  .card {
    background: var(--mm-surface);
    border: 1px solid var(--mm-border);
    border-radius: var(--mm-radius);
    box-shadow: var(--mm-shadow);
    padding: 1.1rem 1.2rem;
    min-width: 0;
  }
  .card > h2 {
    margin: 0 0 0.8rem;
    font-size: 0.8rem;
    font-weight: 650;
    letter-spacing: 0.08em;
    text-transform: uppercase;
    color: var(--mm-muted);
  }
`;

/** Declarations (no selector) of the secondary button every panel starts from; panels add size and weight. */
export const buttonLook = css`
  font: inherit;
  border-radius: 8px;
  border: 1px solid var(--mm-border);
  background: var(--mm-surface-2);
  color: var(--mm-fg);
  cursor: pointer;
`;

/** Declarations (no selector) of a text field or select; panels add radius and padding. */
export const fieldLook = css`
  font: inherit;
  color: inherit;
  background: var(--mm-surface-2);
  border: 1px solid var(--mm-field-border);
  width: 100%;
  box-sizing: border-box;
`;

/** The small secondary button of the side panels (list rows, imports): every <button>, and `.small-button`. */
export const smallButton = css`
  button, .small-button {
    ${buttonLook}
    font-size: 0.8rem;
    padding: 0.25rem 0.6rem;
  }
`;
