// <mm-confirm-dialog>: a small modal question before something is destroyed. `ask()` opens it and resolves true
// only when the person presses the confirm button; Cancel, Escape and closing resolve false. Focus starts on
// Cancel (the safe answer) and returns where it was (the native <dialog> does both).
import { LitElement, css, html } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { buttonLook } from './theme';

@customElement('mm-confirm-dialog')
export class ConfirmDialog extends LitElement {
  @state() private message = '';
  @state() private confirmLabel = 'Delete';
  @query('dialog') private dialog!: HTMLDialogElement;
  private answer: ((yes: boolean) => void) | null = null;

  static override styles = css`
    dialog {
      border: 1px solid var(--mm-field-border);
      border-radius: var(--mm-radius);
      background: var(--mm-surface);
      color: var(--mm-fg);
      box-shadow: var(--mm-shadow);
      max-width: min(26rem, calc(100vw - 2rem));
      padding: 1rem 1.1rem;
    }
    dialog::backdrop { background: rgb(10 12 20 / 45%); }
    p { margin: 0 0 1rem; font-size: 0.92rem; }
    .buttons { display: flex; justify-content: flex-end; gap: 0.5rem; }
    button { ${buttonLook} font-size: 0.88rem; padding: 0.4rem 0.9rem; }
    button.danger { background: #b42318; border-color: #b42318; color: #ffffff; font-weight: 600; }
    :focus-visible { outline: 2px solid var(--mm-accent); outline-offset: 2px; }
  `;

  /** Shows `message` with Cancel and `confirmLabel`; true when confirmed. */
  async ask(message: string, confirmLabel = 'Delete'): Promise<boolean> {
    this.answer?.(false);
    this.message = message;
    this.confirmLabel = confirmLabel;
    await this.updateComplete;
    if (!this.dialog.open) this.dialog.showModal();
    this.renderRoot.querySelector<HTMLButtonElement>('[data-testid="confirm-cancel"]')?.focus();
    return new Promise<boolean>((resolve) => (this.answer = resolve));
  }

  override render() {
    return html`<dialog aria-labelledby="confirm-text" data-testid="confirm-dialog" @close=${() => this.settle(false)}>
      <p id="confirm-text">${this.message}</p>
      <div class="buttons">
        <button type="button" data-testid="confirm-cancel" @click=${() => this.settle(false)}>Cancel</button>
        <button type="button" class="danger" data-testid="confirm-ok"
          @click=${() => this.settle(true)}>${this.confirmLabel}</button>
      </div>
    </dialog>`;
  }

  private settle(yes: boolean) {
    const answer = this.answer;
    this.answer = null;
    if (this.dialog?.open) this.dialog.close();
    answer?.(yes);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-confirm-dialog': ConfirmDialog;
  }
}
