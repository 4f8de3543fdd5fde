// <mm-app>: the root component. Starts the engine worker, asks it for the GPU, and lays out the page:
// prompt + preview on one side, the GPU panel on the other (stacked at phone widths).
// Invariant: the UI owns no GPU code; it only feature-detects navigator.gpu to explain a missing WebGPU
// without starting a worker that could not use it.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { createEngineClient, type EngineClient } from '../worker/client';
import type { GpuReport } from '../worker/api';
import { card, tokens } from './theme';
import './gpu-panel';
import './prompt-panel';
import './webgpu-missing';

type Phase = 'starting' | 'ready' | 'no-webgpu' | 'error';

@customElement('mm-app')
export class MmApp extends LitElement {
  @state() private phase: Phase = 'starting';
  @state() private report: GpuReport | null = null;
  @state() private problem = '';
  /** Id of the loaded model; null while none is loaded (generation stays disabled). */
  @state() private modelId: string | null = null;

  private client: EngineClient | null = null;

  static override styles = [
    tokens,
    card,
    css`
      :host {
        display: block;
        min-height: 100vh;
        background: var(--mm-bg);
        color: var(--mm-fg);
      }
      .wrap { max-width: 1080px; margin: 0 auto; padding: 1.25rem 1rem 2rem; }
      header {
        display: flex;
        align-items: center;
        justify-content: space-between;
        gap: 0.8rem;
        flex-wrap: wrap;
        margin-bottom: 1.25rem;
      }
      .brand { display: flex; align-items: center; gap: 0.7rem; }
      .logo {
        width: 2.2rem;
        height: 2.2rem;
        border-radius: 10px;
        background: conic-gradient(from 210deg, #5b4bdb, #22b3c9, #f59e0b, #e5484d, #5b4bdb);
        box-shadow: inset 0 0 0 3px rgb(255 255 255 / 25%);
        flex: none;
      }
      h1 { font-size: 1.3rem; margin: 0; line-height: 1.1; }
      .tagline { margin: 0.1rem 0 0; color: var(--mm-muted); font-size: 0.88rem; }
      .pill {
        font-size: 0.8rem;
        border: 1px solid var(--mm-border);
        background: var(--mm-surface);
        border-radius: 999px;
        padding: 0.25rem 0.7rem;
        color: var(--mm-muted);
        white-space: nowrap;
      }
      .pill .dot {
        display: inline-block;
        width: 0.5rem;
        height: 0.5rem;
        border-radius: 50%;
        background: currentColor;
        margin-right: 0.35rem;
        vertical-align: 0.05rem;
      }
      .pill.ok { color: var(--mm-ok); }
      .grid {
        display: grid;
        grid-template-columns: minmax(0, 1.6fr) minmax(0, 1fr);
        gap: 1rem;
        align-items: start;
      }
      .col { display: grid; gap: 1rem; min-width: 0; }
      @media (max-width: 760px) {
        .grid { grid-template-columns: minmax(0, 1fr); }
      }
      .preview {
        aspect-ratio: 1;
        width: 100%;
        max-width: 512px;
        margin: 0 auto;
        border-radius: 10px;
        border: 1px dashed var(--mm-border);
        /* A 16x16 grid: the token grid the model fills in, one cell per token. */
        background-color: var(--mm-surface-2);
        background-image:
          linear-gradient(to right, var(--mm-border) 1px, transparent 1px),
          linear-gradient(to bottom, var(--mm-border) 1px, transparent 1px);
        background-size: calc(100% / 16) calc(100% / 16);
        display: grid;
        place-items: center;
        text-align: center;
        color: var(--mm-muted);
        font-size: 0.9rem;
      }
      .preview span { background: var(--mm-surface); padding: 0.3rem 0.6rem; border-radius: 8px; margin: 1rem; }
      mm-webgpu-missing { margin-bottom: 1rem; }
      footer { margin-top: 1.5rem; text-align: center; color: var(--mm-muted); font-size: 0.8rem; }
    `,
  ];

  override connectedCallback(): void {
    super.connectedCallback();
    void this.start();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.client?.terminate();
    this.client = null;
  }

  private async start(): Promise<void> {
    if (!('gpu' in navigator) || !navigator.gpu) {
      this.phase = 'no-webgpu';
      this.problem = 'this browser exposes no navigator.gpu';
      this.report = { status: 'unavailable', message: this.problem };
      return;
    }
    try {
      this.client ??= createEngineClient();
      const report = await this.client.api.init();
      this.report = report;
      if (report.status === 'ready') this.phase = 'ready';
      else if (report.status === 'unavailable') {
        this.phase = 'no-webgpu';
        this.problem = report.message;
      } else {
        this.phase = 'error';
        this.problem = report.message;
      }
    } catch (e) {
      // The worker itself failed (script error, blocked worker): report it, do not hang on "starting".
      this.phase = 'error';
      this.problem = e instanceof Error ? e.message : String(e);
      this.report = { status: 'error', message: this.problem };
    }
  }

  private promptNote(): string {
    if (this.phase === 'no-webgpu') return 'Generation needs WebGPU (see above).';
    if (this.phase === 'starting') return 'Starting the GPU…';
    if (this.phase === 'error') return 'The GPU could not be started; see the GPU panel.';
    if (this.modelId === null) return 'No model is loaded yet: generation unlocks once a model ships with the app.';
    return '';
  }

  override render() {
    const pill =
      this.phase === 'ready'
        ? html`<span class="pill ok" data-testid="status"><span class="dot"></span>GPU ready</span>`
        : this.phase === 'starting'
          ? html`<span class="pill" data-testid="status">Starting GPU…</span>`
          : this.phase === 'no-webgpu'
            ? html`<span class="pill" data-testid="status">No WebGPU</span>`
            : html`<span class="pill" data-testid="status">GPU error</span>`;
    return html`<div class="wrap">
      <header>
        <div class="brand">
          <div class="logo" aria-hidden="true"></div>
          <div>
            <h1>M-Mamba</h1>
            <p class="tagline">Text to image, in your browser, on your GPU.</p>
          </div>
        </div>
        ${pill}
      </header>
      ${this.phase === 'no-webgpu'
        ? html`<mm-webgpu-missing .detail=${this.problem} ?secure=${window.isSecureContext}></mm-webgpu-missing>`
        : nothing}
      <div class="grid">
        <div class="col">
          <mm-prompt-panel ?disabled=${this.modelId === null || this.phase !== 'ready'} .note=${this.promptNote()}></mm-prompt-panel>
          <section class="card" aria-labelledby="img-h">
            <h2 id="img-h">Image</h2>
            <div class="preview" data-testid="preview"><span>Your image appears here, token by token.</span></div>
          </section>
        </div>
        <div class="col">
          <mm-gpu-panel .report=${this.report}></mm-gpu-panel>
        </div>
      </div>
      <footer>Runs entirely in this page: your prompts and images never leave your machine.</footer>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-app': MmApp;
  }
}
