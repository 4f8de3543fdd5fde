// <mm-app>: the root component. Starts the engine worker, asks it for the GPU, loads the default model
// (download with a progress bar on first visit, IndexedDB afterwards), and lays out the page: prompt + image
// on one side, models and GPU on the other (stacked at phone widths). Generation streams every step into
// the image view; Cancel says "Cancelling…" at once, stops it and leaves the app usable.
// The app talks to the engine only through MMambaEngineInterface (src/worker/api.ts), here answered by the worker
// proxy WebWorkerMMambaEngine. If the engine worker dies (killed for memory, crashed, hung: src/worker/client.ts
// detects it), every pending call
// fails with a message instead of hanging, the page says what happened, starts a fresh worker and reloads the model
// it had (from IndexedDB); the prompt, settings, images on the page and everything stored are kept. Three deaths
// within a minute stop the restarts with a message.
// The settings in the page URL (`?prompt=…&seed=…&steps=…&guidance=…`, src/ui/share_link.ts) prefill the prompt
// panel, and each generation writes its settings back (history.replaceState), so the address reproduces the image.
// On a software adapter (SwiftShader and the like) the status pill says "Software GPU: slow" instead of "GPU ready".
// Each finished image goes into the gallery (IndexedDB, src/ui/gallery_store.ts, with its token grid); picking one
// there restores its settings (and its model) into the prompt panel.
// Editing: the edit panel edits the last finished image, or what "Edit this step" (the image view's shown step) or a
// gallery image's Edit hands it: a gallery image's stored tokens (an image kept without them is re-encoded from its
// PNG by the VQ encoder), with its settings as the edit's starting point.
// Downloading a model or saving an adapter asks the browser to keep this site's storage (src/ui/persist.ts).
// While a run goes, the caption (the one status line under the image) says the step and about how long is left
// (src/ui/run_estimate.ts); starting a run scrolls the image card into view if it is not on screen.
// Escape anywhere on the page cancels a running generation. The panels sit in one <main> landmark.
// Invariant: the UI owns no GPU code; it only feature-detects navigator.gpu to explain a missing WebGPU
// without starting a worker that could not use it.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { WebWorkerMMambaEngine } from '../worker/client';
import { EngineWorkerDiedError, GenerationCancelledError } from '../worker/errors';
import type {
  AdapterInfoRow,
  GenerateProgress,
  GenerateRequest,
  GpuReport,
  LoadProgress,
  ModelInfo,
  StorageInfo,
} from '../worker/api';
import { isSoftwareAdapter, SOFTWARE_SUGGESTED_STEPS } from './gpu_kind';
import { framePng, type FramePixels } from './frame_png';
import { GalleryStore, galleryLabel, indexedDbGallery, type GalleryItem } from './gallery_store';
import { imageFacts, type ImageFacts } from './image_file';
import { splitStep, type Frame } from './edit_frames';
import type { EditPicture } from './edit_panel';
import { formatMs, type PictureToEdit } from './image_view';
import type { VariationItem } from './variations_grid';
import { requestPersistentStorage } from './persist';
import { timeLeftText } from './run_estimate';
import { genStepSecOf, saveGenStepSec } from './finetune_estimate';
import { plural } from './plural';
import type { LoadState } from './model_panel';
import type { Prefill } from './prompt_panel';
import { readSharedSettings, withSharedSettings } from './share_link';
import { card, tokens } from './theme';
import './finetune_panel';
import './gallery_panel';
import './gpu_panel';
import './edit_panel';
import './image_view';
import './intro';
import './model_panel';
import './variations_grid';
import './offline_note';
import './prompt_panel';
import './webgpu_missing';

type Phase = 'starting' | 'ready' | 'no-webgpu' | 'error';

@customElement('mm-app')
export class MmApp extends LitElement {
  @state() private phase: Phase = 'starting';
  @state() private report: GpuReport | null = null;
  @state() private problem = '';
  /** Id of the loaded model; null while none is loaded (generation stays disabled). */
  @state() private modelId: string | null = null;
  /** The model being loaded (picker value while it loads). */
  @state() private loadingId: string | null = null;
  @state() private models: ModelInfo[] = [];
  @state() private load: LoadState | null = null;
  @state() private loadError = '';
  @state() private cacheWarning = '';
  @state() private storage: StorageInfo | null = null;
  @state() private busy = false;
  @state() private frames: Frame[] = [];
  /** Editing: the last request, its finished image, and each image of a variations run (src/ui/edit_panel.ts). */
  @state() private lastRequest: GenerateRequest | null = null;
  @state() private editResult: EditPicture | null = null;
  /** The settings edits start from when the picture came from the gallery (else the last request). */
  @state() private editBase: GenerateRequest | null = null;
  @state() private variationItems: VariationItem[] = [];
  @state() private caption = '';
  @state() private genError = '';
  /** Settings of the image on show (its download's name and PNG text). */
  @state() private facts: ImageFacts | null = null;
  /** Settings from the page URL (`?prompt=…&seed=…`), read once at start, and what in it was ignored. */
  private readonly shared = readSharedSettings(location.search);
  /** Settings the prompt panel takes over (a new object each time): the link's at start, a gallery image's later. */
  @state() private prefill: Prefill = this.shared.settings;
  /** Finished images kept on this device, newest first. */
  @state() private gallery: GalleryItem[] = [];
  private readonly galleryStore = new GalleryStore(indexedDbGallery());
  /** LoRA adapters of the loaded generator (the prompt panel's adapter picker, the fine-tuning panel's list). */
  @state() private adapters: AdapterInfoRow[] = [];
  /** This device's measured seconds per guided generation step (the fine-tuning estimate reads it). */
  @state() private genStepSec: number | null = null;
  /** True while fine-tuning holds the GPU (not paused): generation waits. */
  @state() private training = false;
  /** Cancel was pressed; the running generation has not stopped yet. */
  @state() private cancelling = false;
  /** What happened to the engine worker (shown until the next one is ready, then as a note). */
  @state() private engineNote = '';

  @state() private engine: WebWorkerMMambaEngine | null = null;
  /** Aborts the running generation (Cancel). */
  private generation: AbortController | null = null;
  /** A step's picture from its tokens (the engine's decodeTokens): the image view and the variations grid ask for it
   *  when a step whose preview was paced away is picked (src/ui/edit_frames.ts ownPixels). */
  private readonly decodeTokens = async (tokens: Uint32Array): Promise<FramePixels> => {
    if (!this.engine) throw new Error('the engine is not running');
    const img = await this.engine.decodeTokens(tokens);
    return { pixels: img.rgba, width: img.width, height: img.height };
  };
  /** Preview pacing the tests force (`?preview-every-ms=<ms>`, read once); empty for people: the worker's default. */
  private readonly pacing = previewPacingOverride();
  /** The generator the person picked last (reloaded after an engine restart). */
  private wantedModel: string | null = null;
  /** When the engine worker died, recently (restart throttle). */
  private deaths: number[] = [];

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
      .pill.warn { color: var(--mm-warn-fg); background: var(--mm-warn-bg); border-color: var(--mm-warn-border); }
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
      mm-webgpu-missing { margin-bottom: 1rem; }
      .error {
        background: var(--mm-warn-bg);
        border: 1px solid var(--mm-warn-border);
        color: var(--mm-warn-fg);
        border-radius: 10px;
        padding: 0.6rem 0.8rem;
        font-size: 0.9rem;
        margin: 0;
        overflow-wrap: anywhere;
      }
      footer { margin-top: 1.5rem; text-align: center; color: var(--mm-muted); font-size: 0.8rem; }
    `,
  ];

  override connectedCallback(): void {
    super.connectedCallback();
    this.addEventListener('mm-generate', (e) => void this.generate(e.detail));
    this.addEventListener('mm-cancel', () => this.cancel());
    this.addEventListener('mm-model', (e) => {
      // The person picked a model that is not stored yet: this load downloads it, worth keeping.
      if (this.models.some((m) => m.id === e.detail && !m.cached)) void requestPersistentStorage();
      void this.loadModel(e.detail);
    });
    this.addEventListener('mm-delete-model', (e) => void this.deleteModel(e.detail));
    this.addEventListener('mm-adapters-changed', (e) => {
      // More adapters than before: one was just saved (or imported), something worth keeping.
      if (e.detail.length > this.adapters.length) void requestPersistentStorage();
      this.adapters = e.detail;
    });
    this.addEventListener('mm-finetune-busy', (e) => (this.training = e.detail));
    this.addEventListener('mm-gallery-restore', (e) => this.restore(e.detail));
    this.addEventListener('mm-gallery-delete', (e) => void this.forget(e.detail));
    this.addEventListener('mm-gallery-edit', (e) => void this.editGalleryItem(e.detail));
    this.addEventListener('mm-edit-picture', (e) => void this.editPicture(e.detail, null));
    void this.refreshGallery();
    window.addEventListener('keydown', this.onKeydown);
    void this.start();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('keydown', this.onKeydown);
    this.engine?.terminate();
    this.engine = null;
  }

  private async start(): Promise<void> {
    if (!('gpu' in navigator) || !navigator.gpu) {
      this.phase = 'no-webgpu';
      this.problem = 'this browser exposes no navigator.gpu';
      this.report = { status: 'unavailable', message: this.problem };
      return;
    }
    try {
      if (!this.engine) {
        // The literal `new URL(..., import.meta.url)` form is what Vite detects to bundle the worker.
        const worker = new Worker(new URL('../worker/worker.ts', import.meta.url), {
          type: 'module',
          name: 'm-mamba-engine',
        });
        const engine = new WebWorkerMMambaEngine(worker, heartbeatOverride());
        this.engine = engine;
        void engine.died.then((reason) => this.onEngineDied(engine, reason));
      }
      const report = await this.engine.init();
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
    if (this.phase !== 'ready' || !this.engine) return;
    try {
      const list = await this.engine.listModels();
      this.models = list.models;
      void this.refreshStorage();
      const again =
        this.wantedModel && this.models.some((m) => m.id === this.wantedModel)
          ? this.wantedModel
          : list.defaultGenerator;
      await this.loadModel(again);
    } catch (e) {
      this.loadError = `Could not read the model list: ${message(e)}`;
    }
  }

  /** The engine worker died: say so, and start a fresh one with the same model (unless it keeps dying). */
  private onEngineDied(engine: WebWorkerMMambaEngine, reason: string): void {
    if (this.engine !== engine) return;
    this.engine = null;
    const now = Date.now();
    this.deaths = [...this.deaths.filter((t) => now - t < 60_000), now];
    this.busy = false;
    this.cancelling = false;
    this.training = false;
    this.modelId = null;
    this.loadingId = null;
    this.load = null;
    if (this.deaths.length >= 3) {
      this.phase = 'error';
      this.problem = `The engine stopped ${this.deaths.length} times within a minute (last: ${reason}); it is not restarted again. Reload the page to try once more.`;
      this.report = { status: 'error', message: this.problem };
      this.engineNote = this.problem;
      return;
    }
    this.phase = 'starting';
    this.report = null;
    this.engineNote = `The engine stopped unexpectedly (${reason}). It is being restarted; your prompt, settings and stored models and adapters are kept.`;
    void this.start().then(() => {
      if (this.phase === 'ready' && this.engineNote.includes('being restarted'))
        this.engineNote = this.engineNote.replace('It is being restarted', 'It was restarted');
    });
  }

  private readonly onKeydown = (e: KeyboardEvent): void => {
    // Escape in a dialog (the delete question) only closes the dialog.
    if (
      e.key === 'Escape' &&
      this.busy &&
      !e.defaultPrevented &&
      !e.composedPath().some((n) => n instanceof HTMLDialogElement)
    )
      this.cancel();
  };

  private cancel(): void {
    if (!this.busy || !this.engine) return;
    // Shown at once: the worker stops at the end of the step it is in (the answer comes then).
    this.cancelling = true;
    this.caption = 'Cancelling…';
    this.generation?.abort();
  }

  private name(id: string): string {
    return this.models.find((m) => m.id === id)?.name ?? id;
  }

  private async refreshStorage(): Promise<void> {
    if (!this.engine) return;
    try {
      this.storage = await this.engine.storageReport();
      const cached = new Set(this.storage.models.map((m) => m.id));
      this.models = this.models.map((m) => ({ ...m, cached: cached.has(m.id) }));
    } catch (e) {
      console.warn('storage report failed', e);
    }
  }

  private async loadModel(id: string): Promise<void> {
    if (!this.engine || this.phase !== 'ready') return;
    this.wantedModel = id;
    this.loadingId = id;
    this.modelId = null;
    this.loadError = '';
    this.cacheWarning = '';
    this.load = { label: `Preparing ${this.name(id)}…`, loadedBytes: 0, totalBytes: 0, percent: 0 };
    const onProgress = (p: LoadProgress) => {
      if (this.loadingId !== id) return;
      switch (p.kind) {
        case 'download':
          this.load = {
            label: `${p.fromCache ? 'Reading' : 'Downloading'} ${this.name(p.modelId)}${p.fromCache ? ' from this device' : ''}`,
            loadedBytes: p.loadedBytes,
            totalBytes: p.totalBytes,
            percent: p.percent,
          };
          break;
        case 'refetch':
          this.load = {
            ...this.load!,
            label: `A stored copy of ${this.name(p.modelId)} was damaged; downloading it again`,
          };
          break;
        case 'cache-warning':
          this.cacheWarning = p.message;
          break;
        case 'compile':
          this.load = { ...this.load!, label: `Building ${this.name(p.modelId)} on the GPU…`, percent: 100 };
          break;
        case 'recover':
          this.caption = 'The GPU had been lost; it was re-acquired.';
          break;
        default:
          break;
      }
    };
    try {
      await this.engine.loadModel(id, onProgress);
      if (this.loadingId === id) {
        this.modelId = id;
        this.load = null;
        void this.refreshAdapters();
      }
    } catch (e) {
      if (this.loadingId === id) {
        this.load = null;
        this.loadError = `Could not load ${this.name(id)}: ${message(e)}`;
      }
    } finally {
      if (this.loadingId === id) this.loadingId = null;
      void this.refreshStorage();
    }
  }

  private async refreshAdapters(): Promise<void> {
    try {
      this.adapters = (await this.engine?.listAdapters()) ?? [];
    } catch (e) {
      console.warn('adapter list failed', e);
    }
  }

  private async deleteModel(id: string): Promise<void> {
    if (!this.engine) return;
    try {
      await this.engine.deleteCachedModel(id);
    } catch (e) {
      this.loadError = `Could not delete ${this.name(id)}: ${message(e)}`;
    }
    await this.refreshStorage();
  }

  private async generate(req: GenerateRequest): Promise<void> {
    if (!this.engine || this.modelId === null || this.busy) return;
    this.busy = true;
    this.cancelling = false;
    this.genError = '';
    if (this.engineNote.includes('It was restarted')) this.engineNote = ''; // read by now; the new run is what matters
    this.frames = [];
    this.lastRequest = req;
    this.editBase = null;
    this.variationItems = [];
    this.facts = imageFacts(req, this.modelId);
    // The URL now reproduces this run (a copied link prefills the same settings).
    history.replaceState(history.state, '', withSharedSettings(location.href, req));
    this.caption = 'Reading the prompt…';
    void this.showImage();
    let note = '';
    let recovered = ''; // a device-loss note (comes before 'encode') survives the prompt note
    const onProgress = (p: GenerateProgress) => {
      switch (p.kind) {
        case 'encode':
          note =
            p.prompt === ''
              ? 'Unconditional (empty prompt).'
              : p.truncated
                ? `Prompt cut to its first ${Array.from(p.prompt).length} characters.`
                : '';
          note = [recovered, note].filter(Boolean).join(' ');
          this.caption = note || 'Generating…';
          break;
        case 'step':
          if (p.count > 1) {
            // variations: the first image in the main view, every image in the grid
            const parts = splitStep(
              p,
              this.variationItems.map((v) => v.frames[v.frames.length - 1]),
            );
            this.frames = [...this.frames, parts[0]!];
            this.variationItems = parts.map((f, i) => ({
              seed: (req.seed + i) >>> 0,
              frames: [...(this.variationItems[i]?.frames ?? []), f],
            }));
          } else {
            // one image: the frame shown last is what a step without pixels keeps
            this.frames = [...this.frames, splitStep(p, [this.frames[this.frames.length - 1]])[0]!];
          }
          this.caption = this.cancelling ? 'Cancelling…' : stepCaption(note, this.frames, p.steps);
          break;
        case 'recover':
          recovered = note = 'The GPU had been lost and was re-acquired.';
          break;
        default:
          break;
      }
    };
    try {
      const generation = new AbortController();
      this.generation = generation;
      const r = await this.engine.generate({ ...req, ...this.pacing }, { onProgress, signal: generation.signal });
      this.caption = `${note ? `${note} ` : ''}Done: ${plural(this.frames.length, 'step')} in ${formatMs(r.ms)}.`;
      const last = this.frames[this.frames.length - 1];
      if (last) this.editResult = { tokens: r.tokens, image: last };
      if (r.variations)
        this.variationItems = this.variationItems.map((v, i) => ({ ...v, tokens: r.variations![i]?.tokens }));
      if (last && this.facts) await this.keep(last, this.facts, r.tokens);
      // A guided single image's time per step: what the fine-tuning panel estimates a run's time from.
      const stepSec = genStepSecOf(this.frames.map((f) => f.msStep));
      if (stepSec !== null && (req.guidance ?? 0) !== 1 && (req.variations ?? 1) <= 1 && this.modelId) {
        saveGenStepSec(this.modelId, stepSec);
        this.genStepSec = stepSec;
      }
    } catch (e) {
      if (e instanceof EngineWorkerDiedError) {
        this.caption = '';
        this.genError = `Generation stopped: ${e.message} The steps shown above are kept; generate again once the model has reloaded.`;
      } else if (e instanceof GenerationCancelledError) {
        this.caption = `Cancelled after ${plural(this.frames.length, 'step')}.`;
      } else {
        this.caption = '';
        this.genError = `Generation failed: ${message(e)}`;
      }
    } finally {
      this.generation = null;
      this.busy = false;
      this.cancelling = false;
      // Finished runs, for tests and automation: `<mm-app data-runs="N">`.
      this.dataset.runs = String(Number(this.dataset.runs ?? 0) + 1);
    }
  }

  /** Scrolls the image card into view when a generation starts, unless it is already fully on screen. */
  private async showImage(): Promise<void> {
    await this.updateComplete;
    const view = this.renderRoot.querySelector('mm-image-view');
    if (!view) return;
    const r = view.getBoundingClientRect();
    if (r.top >= 0 && r.bottom <= window.innerHeight) return;
    view.scrollIntoView({ block: 'nearest' });
  }

  /** Keeps a finished image in the gallery (a failing IndexedDB costs the gallery, never the generation). */
  private async keep(frame: Frame, facts: ImageFacts, tokens: Uint32Array): Promise<void> {
    try {
      await this.galleryStore.add(facts, await framePng(frame, 1, facts, facts.steps), undefined, tokens);
    } catch (e) {
      console.warn('gallery: could not keep the image', e);
    }
    await this.refreshGallery();
  }

  private async refreshGallery(): Promise<void> {
    try {
      this.gallery = await this.galleryStore.list();
    } catch (e) {
      console.warn('gallery: could not read it', e);
    }
  }

  private async forget(id: string): Promise<void> {
    try {
      await this.galleryStore.remove(id);
    } catch (e) {
      console.warn('gallery: could not delete', e);
    }
    await this.refreshGallery();
  }

  /** A picture into the edit panel (and the panel into view); `base`: the settings edits start from (null: the
   *  last request). */
  private async editPicture(p: PictureToEdit, base: GenerateRequest | null): Promise<void> {
    this.editBase = base;
    this.editResult = { tokens: p.tokens, unknown: p.unknown, image: p.image, label: p.label };
    await this.updateComplete;
    this.renderRoot.querySelector('mm-edit-panel')?.scrollIntoView({ block: 'nearest' });
  }

  /** A gallery image into the edit panel: its stored tokens (or its PNG re-encoded), its settings (and model). */
  private async editGalleryItem(item: GalleryItem): Promise<void> {
    if (this.busy) return;
    const f = item.facts;
    this.restore(item);
    const label = `the gallery image ${galleryLabel(item)}`;
    const base: GenerateRequest = {
      prompt: f.prompt,
      seed: f.seed,
      steps: f.steps,
      guidance: f.guidance,
      ...(f.negativePrompt ? { negativePrompt: f.negativePrompt } : {}),
    };
    try {
      if (item.tokens) {
        await this.editPicture({ tokens: item.tokens.slice(), image: await pngPixels(item.png), label }, base);
      } else if (this.engine) {
        const enc = await this.engine.encodeImage(item.png.slice().buffer as ArrayBuffer);
        const image = { pixels: enc.image.rgba, width: enc.image.width, height: enc.image.height };
        await this.editPicture({ tokens: enc.tokens, image, label: `${label} (re-encoded)` }, base);
      }
    } catch (e) {
      this.genError = `Could not edit that image: ${message(e)}`;
    }
  }

  /** A gallery image's settings into the prompt panel; its model is loaded when another one is. */
  private restore(item: GalleryItem): void {
    const f = item.facts;
    this.prefill = {
      prompt: f.prompt,
      negativePrompt: f.negativePrompt ?? '',
      seed: f.seed,
      steps: f.steps,
      guidance: f.guidance,
      adapter: f.adapter ?? '',
    };
    const current = this.loadingId ?? this.modelId;
    if (f.modelId !== current && this.models.some((m) => m.id === f.modelId) && !this.busy)
      void this.loadModel(f.modelId);
  }

  private promptNote(): string {
    if (this.phase === 'no-webgpu') return 'Generation needs WebGPU (see above).';
    if (this.phase === 'starting') return this.engineNote ? 'Restarting the engine…' : 'Starting the GPU…';
    if (this.phase === 'error') return 'The GPU could not be started; see the GPU panel.';
    if (this.loadingId !== null) return `Loading ${this.name(this.loadingId)}…`;
    if (this.modelId === null) return 'No model is loaded: pick one above.';
    if (this.training) return 'Fine-tuning is using the GPU: pause or cancel it (Teach a new word) to generate.';
    return '';
  }

  override render() {
    const pill =
      this.phase === 'ready' && isSoftwareAdapter(this.report)
        ? html`<span class="pill warn" data-testid="status" title=${softwareNote(this.report)}><span class="dot"></span>Software GPU: slow</span>`
        : this.phase === 'ready'
          ? html`<span class="pill ok" data-testid="status"><span class="dot"></span>GPU ready</span>`
          : this.phase === 'starting'
            ? html`<span class="pill" data-testid="status">${this.engineNote ? 'Restarting engine…' : 'Starting GPU…'}</span>`
            : this.phase === 'no-webgpu'
              ? html`<span class="pill" data-testid="status">No WebGPU</span>`
              : html`<span class="pill" data-testid="status">GPU error</span>`;
    const generators = this.models.filter((m) => m.kind !== 'vq');
    const names = Object.fromEntries(this.models.map((m) => [m.id, m.name]));
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
      <main>
        <mm-intro></mm-intro>
        <mm-offline-note></mm-offline-note>
        ${
          this.phase === 'no-webgpu'
            ? html`<mm-webgpu-missing .detail=${this.problem} ?secure=${window.isSecureContext}></mm-webgpu-missing>`
            : nothing
        }
        <div class="grid">
          <div class="col">
            <mm-prompt-panel
              ?disabled=${this.modelId === null || this.phase !== 'ready' || this.training}
              ?busy=${this.busy}
              .note=${this.promptNote()}
              .models=${generators}
              .modelId=${this.loadingId ?? this.modelId ?? ''}
              .adapters=${this.adapters}
              .shared=${this.prefill}
              .linkNote=${this.shared.ignored.length ? `Ignored from the link: ${this.shared.ignored.join('; ')}.` : ''}
            ></mm-prompt-panel>
            ${this.engineNote ? html`<p class="error" role="status" data-testid="engine-note">${this.engineNote}</p>` : nothing}
            ${this.loadError ? html`<p class="error" role="alert" data-testid="load-error">${this.loadError}</p>` : nothing}
            ${this.genError ? html`<p class="error" role="alert" data-testid="gen-error">${this.genError}</p>` : nothing}
            <mm-image-view .frames=${this.frames} ?busy=${this.busy} .caption=${this.caption}
              .facts=${this.facts} .decodeTokens=${this.decodeTokens}></mm-image-view>
            <mm-variations-grid .items=${this.variationItems} .base=${this.lastRequest}
              ?busy=${this.busy} .decodeTokens=${this.decodeTokens}></mm-variations-grid>
            <mm-edit-panel .engine=${this.engine} .base=${this.editBase ?? this.lastRequest} .result=${this.editResult}
              .sampling=${this.models.find((m) => m.id === this.modelId)?.sampling ?? {}} ?busy=${this.busy}
              ?disabled=${this.modelId === null || this.phase !== 'ready' || this.training}></mm-edit-panel>
            <mm-gallery .items=${this.gallery} ?busy=${this.busy}></mm-gallery>
            <mm-finetune-panel .engine=${this.engine} .modelId=${this.phase === 'ready' ? this.modelId : null}
              .adapters=${this.adapters} .genStepSec=${this.genStepSec}></mm-finetune-panel>
          </div>
          <div class="col">
            <mm-model-panel .load=${this.load} .storage=${this.storage} .names=${names} .warning=${this.cacheWarning}
              .models=${this.models} .current=${this.modelId}
                ?busy=${this.busy || this.loadingId !== null || this.training}></mm-model-panel>
            <mm-gpu-panel .report=${this.report}></mm-gpu-panel>
          </div>
        </div>
      </main>
      <footer>Runs entirely in this page: your prompts and images never leave your machine.</footer>
    </div>`;
  }
}

/** The liveness heartbeat tests may shorten (`?engine-heartbeat-timeout=<ms>` in the page URL, at least 1000). */
function heartbeatOverride(): { heartbeatMs?: number; heartbeatTimeoutMs?: number } {
  const ms = Number(new URLSearchParams(location.search).get('engine-heartbeat-timeout'));
  return Number.isInteger(ms) && ms >= 1000 ? { heartbeatMs: Math.min(1000, ms), heartbeatTimeoutMs: ms } : {};
}

/** The preview pacing tests may force (`?preview-every-ms=<ms>` in the page URL: 0 decodes every step, a huge value
 *  none between the first and the last); the worker checks its range (src/worker/generation/requests.ts). */
function previewPacingOverride(): { previewEveryMs?: number } {
  const raw = new URLSearchParams(location.search).get('preview-every-ms');
  const ms = raw === null || raw.trim() === '' ? Number.NaN : Number(raw);
  return Number.isFinite(ms) ? { previewEveryMs: ms } : {};
}

/** The status line while a run goes: "Step 3 of 12… about 14 s left" (the estimate from this run's step times). */
function stepCaption(note: string, frames: Frame[], steps: number): string {
  const left = timeLeftText(
    frames.length,
    steps,
    frames.reduce((ms, f) => ms + f.msStep, 0),
  );
  return `${note ? `${note} ` : ''}Step ${frames.length} of ${steps}…${left ? ` ${left}` : ''}`;
}

/** What the software-GPU pill explains (its title). */
function softwareNote(report: GpuReport | null): string {
  const name = report?.status === 'ready' ? report.adapterName : 'a software renderer';
  return `This GPU is a software renderer (${name}): each step can take seconds to minutes. Try ${SOFTWARE_SUGGESTED_STEPS} steps.`;
}

/** A PNG's RGBA pixels (a gallery image's, to show in the edit panel). */
async function pngPixels(png: Uint8Array): Promise<{ pixels: Uint8ClampedArray; width: number; height: number }> {
  const bmp = await createImageBitmap(new Blob([png as BlobPart], { type: 'image/png' }));
  const c = document.createElement('canvas');
  c.width = bmp.width;
  c.height = bmp.height;
  const ctx = c.getContext('2d')!;
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  return { pixels: ctx.getImageData(0, 0, c.width, c.height).data, width: c.width, height: c.height };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-app': MmApp;
  }
}
