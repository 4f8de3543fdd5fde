// <mm-edit-panel>: "Edit and vary". The picture to edit is the last finished image, or any step or gallery image
// the app hands it ("Edit this step" in the image view, "Edit" in the gallery: `result` with a `label`), or an
// uploaded PNG/JPEG/WebP, encoded to tokens by the engine's `encodeImage`. Three actions, each sent as `mm-generate` (the app runs it like
// any generation, every step shown):
// - Re-generate region: the tokens painted in the mask editor (mask_editor.ts) are drawn anew, the rest kept;
// - From picture: image-to-image, the strength slider choosing how many tokens are re-drawn and the "Re-draw"
//   select which (at random by seed, the default as measured, or the model's least confident:
//   src/model/strength_mask.ts);
// - Draw N variations (2–8) of the last request, one batched run; the app shows them in <mm-variations-grid>.
// Each action uses the last request's settings (seed, steps, guidance, …) with this panel's prompt. Problems (an
// empty or full mask, a refused upload, strength 0) are shown in the engine's words before anything is sent.
import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { GENERATION_SETTINGS, samplingDefault, type Remask, type SamplingDefaults } from '../model/settings';
import { DEFAULT_REMASK } from '../model/strength_mask';
import type { GenerateRequest, MMambaEngineInterface } from '../worker/api';
import { emptyMask } from './edit_mask';
import { imageToImageRequest, regionRequest, variationsRequest, type Built, type EditSource } from './edit_requests';
import type { FramePixels } from './frame_png';
import { buttonLook, card, fieldLook } from './theme';
import './mask_editor';

/** A picture the panel can edit. */
export interface EditPicture extends EditSource {
  image: FramePixels;
  /** What it is ("step 1 of 12", "the gallery image …"); absent: the last image. */
  label?: string;
}

const VARIATIONS = GENERATION_SETTINGS.variations;

@customElement('mm-edit-panel')
export class EditPanel extends LitElement {
  @property({ attribute: false }) engine: Pick<MMambaEngineInterface, 'encodeImage'> | null = null;
  /** The last request (its settings are reused); null before the first generation. */
  @property({ attribute: false }) base: GenerateRequest | null = null;
  /** The last finished image. */
  @property({ attribute: false }) result: EditPicture | null = null;
  @property({ type: Boolean }) busy = false;
  /** The loaded generator's recommended sampling settings (ModelInfo.sampling): the start without a last request. */
  @property({ attribute: false }) sampling: SamplingDefaults = {};
  @property({ type: Boolean }) disabled = false;
  @state() private upload: EditPicture | null = null;
  @state() private useUpload = false;
  @state() private mask: Uint8Array = emptyMask(16);
  @state() private prompt = '';
  @state() private strength = 0.5;
  @state() private remask: Remask = DEFAULT_REMASK;
  @state() private count = 2;
  @state() private problem = '';
  @state() private reading = false;

  static override styles = [
    card,
    css`
      :host { display: block; }
      .row {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem 0.8rem;
        align-items: center;
        margin: 0.6rem 0;
        font-size: 0.85rem;
      }
      label { display: inline-flex; align-items: center; gap: 0.35rem; }
      input[type='text'], input[type='number'], select { ${fieldLook} }
      input[type='text'] { flex: 1; min-width: 12rem; }
      input[type='number'] { width: 4rem; }
      button { ${buttonLook} font-size: 0.85rem; padding: 0.4rem 0.8rem; }
      button:disabled { opacity: 0.5; cursor: not-allowed; }
      .muted { color: var(--mm-muted); font-size: 0.85rem; margin: 0.3rem 0; }
      .error {
        color: var(--mm-warn-fg);
        background: var(--mm-warn-bg);
        border: 1px solid var(--mm-warn-border);
        border-radius: 8px;
        padding: 0.4rem 0.6rem;
        font-size: 0.85rem;
      }
      h3 { font-size: 0.9rem; margin: 0.9rem 0 0.2rem; }
    `,
  ];

  protected override willUpdate(changed: PropertyValues<this>): void {
    // A new request's prompt becomes the edit prompt; a new result is edited next (a fresh mask).
    if (changed.has('base') && this.base) this.prompt = this.base.prompt;
    // A picture with still-masked tokens (an unfinished step) starts with those marked: every edit re-draws them.
    if (changed.has('result') && this.result) {
      this.useUpload = false;
      this.mask = this.result.unknown?.slice() ?? emptyMask(this.grid());
    }
  }

  private picture(): EditPicture | null {
    return this.useUpload && this.upload ? this.upload : this.result;
  }

  private grid(): number {
    const p = this.picture();
    return p ? Math.round(Math.sqrt(p.tokens.length)) : 16;
  }

  /** The settings the actions start from: the last request, else seed 1 with the loaded generator's recommended
   *  steps and guidance, with this panel's prompt. */
  private settings(): GenerateRequest {
    const b = this.base ?? {
      prompt: '',
      seed: 1,
      steps: samplingDefault('steps', this.sampling),
      guidance: samplingDefault('guidance', this.sampling),
    };
    return { ...b, prompt: this.prompt };
  }

  private send(built: Built): void {
    if (!built.ok) {
      this.problem = built.problem;
      return;
    }
    this.problem = '';
    this.dispatchEvent(
      new CustomEvent<GenerateRequest>('mm-generate', { detail: built.req, bubbles: true, composed: true }),
    );
  }

  private regenerate(): void {
    const p = this.picture();
    if (p) this.send(regionRequest(this.settings(), p, this.mask));
  }

  private fromPicture(): void {
    const p = this.picture();
    if (p) this.send(imageToImageRequest(this.settings(), p, this.strength, this.remask));
  }

  private variations(): void {
    this.send(variationsRequest(this.settings(), this.count));
  }

  private async onFile(e: Event): Promise<void> {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (!file || !this.engine) return;
    this.reading = true;
    this.problem = '';
    try {
      const enc = await this.engine.encodeImage(await file.arrayBuffer());
      this.upload = {
        tokens: enc.tokens,
        image: { pixels: enc.image.rgba, width: enc.image.width, height: enc.image.height },
      };
      this.useUpload = true;
      this.mask = emptyMask(Math.round(Math.sqrt(enc.tokens.length)));
    } catch (err) {
      this.problem = `${file.name} could not be used: ${err instanceof Error ? err.message : String(err)}.`;
    } finally {
      this.reading = false;
    }
  }

  override render() {
    const p = this.picture();
    const off = this.disabled || this.busy;
    return html`<section class="card" aria-labelledby="edit-h" data-testid="edit-panel">
      <h2 id="edit-h">Edit and vary</h2>
      <div class="row">
        <label>Upload picture <input type="file" accept="image/png,image/jpeg,image/webp" data-testid="edit-upload"
          ?disabled=${this.disabled || this.reading || !this.engine} @change=${this.onFile} /></label>
        ${
          this.upload && this.result
            ? html`<label><input type="checkbox" data-testid="edit-use-upload" .checked=${this.useUpload} @change=${(
                e: Event,
              ) => {
                this.useUpload = (e.target as HTMLInputElement).checked;
                this.mask = emptyMask(this.grid());
              }} /> Edit the uploaded picture</label>`
            : nothing
        }
        ${this.reading ? html`<span class="muted" role="status">Reading the picture…</span>` : nothing}
      </div>
      ${
        p
          ? html`<p class="muted" data-testid="edit-source">Editing ${this.useUpload && this.upload ? 'the uploaded picture' : (p.label ?? 'the last image')}.</p>
            <mm-mask-editor .image=${p.image} .grid=${this.grid()} .mask=${this.mask} ?disabled=${off}
              @mm-mask-change=${(e: CustomEvent<Uint8Array>) => (this.mask = e.detail)}></mm-mask-editor>`
          : html`<p class="muted">Generate an image or upload a picture to edit it.</p>`
      }
      <div class="row">
        <label for="edit-prompt">Prompt</label>
        <input id="edit-prompt" type="text" data-testid="edit-prompt" maxlength="400" .value=${this.prompt}
          ?disabled=${off} @input=${(e: Event) => (this.prompt = (e.target as HTMLInputElement).value)} />
      </div>
      <div class="row">
        <button type="button" data-testid="regenerate-region" ?disabled=${off || !p}
          @click=${this.regenerate}>Re-generate region</button>
      </div>
      <h3>Image-to-image</h3>
      <div class="row">
        <label>Strength
          <input type="range" min="0" max="1" step="0.05" data-testid="edit-strength" .value=${String(this.strength)}
            ?disabled=${off} @input=${(e: Event) => (this.strength = Number((e.target as HTMLInputElement).value))} />
          <output data-testid="edit-strength-value">${this.strength.toFixed(2)}</output></label>
        <label>Re-draw
          <select data-testid="edit-remask" ?disabled=${off} .value=${this.remask}
            @change=${(e: Event) => (this.remask = (e.target as HTMLSelectElement).value as Remask)}>
            <option value="random" ?selected=${this.remask === 'random'}>random tokens (by seed)</option>
            <option value="confidence" ?selected=${this.remask === 'confidence'}>the least likely tokens</option>
          </select></label>
        <button type="button" data-testid="from-picture" ?disabled=${off || !p}
          @click=${this.fromPicture}>Re-draw from picture</button>
      </div>
      <p class="muted">Strength = the share of the picture's tokens drawn anew; 1 draws a new picture. Which ones: at random by the seed (the default: it kept more of the picture in our measurement), or those the model finds least likely for the prompt.</p>
      <h3>Variations</h3>
      <div class="row">
        <label>Images
          <input type="number" data-testid="variations-count" min=${2} max=${VARIATIONS.max} step="1"
            .value=${String(this.count)} ?disabled=${off}
            @change=${(e: Event) => {
              const v = Math.round(Number((e.target as HTMLInputElement).value));
              this.count = Number.isFinite(v) ? Math.min(VARIATIONS.max, Math.max(2, v)) : 2;
            }} /></label>
        <button type="button" data-testid="draw-variations" ?disabled=${off}
          @click=${this.variations}>Draw ${this.count} variations</button>
      </div>
      ${this.problem ? html`<p class="error" role="alert" data-testid="edit-error">${this.problem}</p>` : nothing}
    </section>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-edit-panel': EditPanel;
  }
}
