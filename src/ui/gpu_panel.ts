// <mm-gpu-panel>: shows what the engine worker reported about the GPU (adapter, capabilities, limits,
// features) in a compact, readable form, and says so when the adapter is a software renderer (slow). The details
// are folded away by default; the summary shows the adapter's name and the software-renderer note.
// Pure presentation of a GpuReport; never touches WebGPU itself.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { GpuReport } from '../worker/api';
import { isSoftwareAdapter, SOFTWARE_SUGGESTED_STEPS } from './gpu_kind';
import { card } from './theme';

/** Limits that are byte sizes: shown as KiB/MiB/GiB. */
const BYTE_LIMITS = new Set([
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxUniformBufferBindingSize',
  'minStorageBufferOffsetAlignment',
]);

export function formatLimit(name: string, value: number): string {
  if (!BYTE_LIMITS.has(name) || value < 1024) return value.toLocaleString('en-US');
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = value;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

/** "maxStorageBufferBindingSize" -> "max storage buffer binding size". */
function humanise(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

@customElement('mm-gpu-panel')
export class GpuPanel extends LitElement {
  /** null while the worker is still acquiring the device. */
  @property({ attribute: false }) report: GpuReport | null = null;

  static override styles = [
    card,
    css`
      :host { display: block; }
      .name {
        font-size: 1.05rem;
        font-weight: 600;
        margin: 0 0 0.2rem;
        overflow-wrap: anywhere;
      }
      .sub { color: var(--mm-muted); font-size: 0.85rem; margin: 0 0 0.8rem; overflow-wrap: anywhere; }
      .caps { display: flex; flex-wrap: wrap; gap: 0.4rem; margin: 0 0 0.9rem; }
      .cap {
        font-size: 0.78rem;
        border-radius: 999px;
        padding: 0.15rem 0.6rem;
        border: 1px solid var(--mm-border);
        color: var(--mm-muted);
        white-space: nowrap;
      }
      .cap.on { color: var(--mm-ok); border-color: currentColor; }
      table { width: 100%; border-collapse: collapse; font-size: 0.85rem; }
      th, td { padding: 0.3rem 0; border-top: 1px solid var(--mm-border); vertical-align: top; }
      th { text-align: left; font-weight: 450; color: var(--mm-muted); padding-right: 0.8rem; }
      td { text-align: right; font-family: var(--mm-mono); font-size: 0.8rem; white-space: nowrap; }
      details { margin-top: 0.9rem; font-size: 0.85rem; }
      summary { cursor: pointer; color: var(--mm-muted); }
      details.all { margin-top: 0; font-size: inherit; }
      details.all > summary { color: inherit; list-style: none; }
      details.all > summary::-webkit-details-marker { display: none; }
      details.all > summary .more::before { content: '▸ ' / ''; }
      details.all[open] > summary .more::before { content: '▾ ' / ''; }
      details.all > summary > span { display: block; }
      details.all > summary .more { color: var(--mm-muted); font-size: 0.85rem; }
      details.all[open] > summary { margin-bottom: 0.6rem; }
      .features { display: flex; flex-wrap: wrap; gap: 0.3rem; margin-top: 0.5rem; }
      .feature {
        font-family: var(--mm-mono);
        font-size: 0.72rem;
        background: var(--mm-surface-2);
        border-radius: 6px;
        padding: 0.1rem 0.4rem;
      }
      .muted { color: var(--mm-muted); margin: 0; }
      .slow {
        background: var(--mm-warn-bg);
        border: 1px solid var(--mm-warn-border);
        color: var(--mm-warn-fg);
        border-radius: 8px;
        padding: 0.5rem 0.7rem;
        font-size: 0.85rem;
        margin: 0.3rem 0 0.5rem;
      }
      .spinner {
        display: inline-block;
        width: 0.8em;
        height: 0.8em;
        border: 2px solid var(--mm-border);
        border-top-color: var(--mm-accent);
        border-radius: 50%;
        animation: spin 0.8s linear infinite;
        vertical-align: -0.1em;
        margin-right: 0.4em;
      }
      @keyframes spin { to { transform: rotate(360deg); } }
      @media (prefers-reduced-motion: reduce) { .spinner { animation: none; } }
    `,
  ];

  override render() {
    const r = this.report;
    return html`<section class="card" aria-labelledby="gpu-h" data-testid="gpu-panel">
      <h2 id="gpu-h">GPU</h2>
      ${
        r === null
          ? html`<p class="muted"><span class="spinner" aria-hidden="true"></span>Starting the GPU…</p>`
          : r.status === 'ready'
            ? this.renderReady(r)
            : html`<p class="muted" data-testid="gpu-status">${r.status === 'unavailable' ? 'No WebGPU device.' : r.message}</p>`
      }
    </section>`;
  }

  private renderReady(r: Extract<GpuReport, { status: 'ready' }>) {
    const a = r.adapter;
    const sub = [a.vendor && `vendor ${a.vendor}`, a.architecture && `arch ${a.architecture}`]
      .filter(Boolean)
      .join(' · ');
    const caps: [string, boolean][] = [
      ['shader-f16', r.hasF16],
      ['subgroups', r.hasSubgroups],
      ['timestamps', r.hasTimestamps],
    ];
    const limits = Object.entries(r.limits).sort(([x], [y]) => x.localeCompare(y));
    // Folded by default: the summary says which GPU this is (and that it is slow, on a software renderer).
    return html`<details class="all" data-testid="gpu-details">
      <summary>
        <span class="name" data-testid="adapter-name">${r.adapterName}</span>
        ${
          isSoftwareAdapter(r)
            ? html`<span class="slow" data-testid="software-gpu">This is a software renderer: WebGPU runs on the CPU, so each
              step can take seconds to minutes. Try ${SOFTWARE_SUGGESTED_STEPS} steps, or a browser with hardware WebGPU.</span>`
            : nothing
        }
        <span class="more">Details: capabilities and limits</span>
      </summary>
      ${sub ? html`<p class="sub">${sub}</p>` : nothing}
      <div class="caps" aria-label="capabilities">
        ${caps.map(
          ([label, on]) =>
            html`<span class="cap ${on ? 'on' : ''}" title=${on ? 'available' : 'not available'}
              >${on ? '✓' : '✗'} ${label}</span
            >`,
        )}
      </div>
      <table aria-label="device limits">
        <tbody>
          ${limits.map(
            ([k, v]) => html`<tr>
              <th scope="row" title=${k}>${humanise(k)}</th>
              <td>${formatLimit(k, v)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <details>
        <summary>${r.features.length} features</summary>
        <div class="features">${r.features.map((f) => html`<span class="feature">${f}</span>`)}</div>
      </details>
    </details>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-gpu-panel': GpuPanel;
  }
}
