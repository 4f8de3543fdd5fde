// <mm-loss-chart>: the training loss as a line, drawn in SVG (no chart library). The raw losses are a faint
// line, an exponential moving average (the trend) a solid one; the y axis (titled "loss") spans the finite values
// seen, the x axis (titled "step") the run's total steps. Its accessible name says what the axes are and where
// the loss stands. Non-finite values are skipped. `data-losses` on the host carries the raw values
// (JSON) for tests and automation.
import { LitElement, css, html, nothing, svg } from 'lit';
import { customElement, property } from 'lit/decorators.js';

const W = 320;
const H = 140;
const PAD = { l: 46, r: 8, t: 8, b: 30 };

/** Exponential moving average with bias correction (as Adam's), so the first values are not pulled to 0. */
export function smooth(values: number[], beta = 0.9): number[] {
  let m = 0;
  return values.map((v, i) => {
    m = beta * m + (1 - beta) * v;
    return m / (1 - beta ** (i + 1));
  });
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

@customElement('mm-loss-chart')
export class LossChart extends LitElement {
  /** Loss per step, in order (step i + 1 is values[i]). */
  @property({ attribute: false }) values: number[] = [];
  /** Steps of the whole run (the x axis); defaults to the values seen. */
  @property({ type: Number }) total = 0;

  static override styles = css`
    :host { display: block; }
    svg { width: 100%; height: auto; display: block; }
    .axis { stroke: var(--mm-border); stroke-width: 1; }
    .raw { fill: none; stroke: var(--mm-accent); stroke-opacity: 0.3; stroke-width: 1; }
    .trend { fill: none; stroke: var(--mm-accent); stroke-width: 2; }
    text { fill: var(--mm-muted); font-size: 10px; font-variant-numeric: tabular-nums; }
    .empty { fill: var(--mm-muted); font-size: 11px; }
    .title { fill: var(--mm-fg); font-size: 10px; font-weight: 600; }
  `;

  override updated(): void {
    this.dataset.losses = JSON.stringify(this.values.map((v) => (Number.isFinite(v) ? +v.toFixed(5) : null)));
  }

  override render() {
    const pts = this.values.map((v, i) => [i + 1, v] as const).filter(([, v]) => Number.isFinite(v));
    const total = Math.max(this.total, this.values.length, 1);
    const ys = pts.map(([, v]) => v);
    const lo = ys.length ? Math.min(...ys) : 0;
    const hi = ys.length ? Math.max(...ys) : 1;
    const span = hi - lo || Math.max(Math.abs(hi), 1) * 0.1;
    const x = (s: number) => PAD.l + ((s - 1) / Math.max(1, total - 1)) * (W - PAD.l - PAD.r);
    const y = (v: number) => PAD.t + (1 - (v - lo) / span) * (H - PAD.t - PAD.b);
    const line = (p: (readonly [number, number])[]) =>
      p.map(([s, v]) => `${x(s).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const trend = smooth(ys).map((v, i) => [pts[i]![0], v] as const);
    const last = ys.at(-1);
    const label =
      last === undefined
        ? `Loss chart (x: step, y: loss), no steps yet of ${total}`
        : `Loss chart (x: step 1 to ${total}, y: loss): ${pts.length} steps, last loss ${fmt(last)}, lowest ${fmt(lo)}, highest ${fmt(hi)}`;
    const xMid = (PAD.l + W - PAD.r) / 2;
    const yMid = (PAD.t + H - PAD.b) / 2;
    return html`<svg viewBox="0 0 ${W} ${H}" role="img" aria-label=${label}>
      <line class="axis" x1=${PAD.l} y1=${H - PAD.b} x2=${W - PAD.r} y2=${H - PAD.b}></line>
      <line class="axis" x1=${PAD.l} y1=${PAD.t} x2=${PAD.l} y2=${H - PAD.b}></line>
      <text class="title" data-axis="x" x=${xMid} y=${H - 3} text-anchor="middle">step</text>
      <text class="title" data-axis="y" x=${-yMid} y=${12} text-anchor="middle" transform="rotate(-90)">loss</text>
      <text x=${PAD.l} y=${H - PAD.b + 11} text-anchor="start">1</text>
      <text x=${W - PAD.r} y=${H - PAD.b + 11} text-anchor="end">${total}</text>
      ${
        ys.length
          ? svg`<text x=${PAD.l - 4} y=${PAD.t + 8} text-anchor="end">${fmt(hi)}</text>
            <text x=${PAD.l - 4} y=${H - PAD.b} text-anchor="end">${fmt(lo)}</text>
            <text x=${W - PAD.r} y=${PAD.t + 8} text-anchor="end">step ${pts.at(-1)![0]} / ${total}</text>
            <polyline class="raw" points=${line(pts)}></polyline>
            <polyline class="trend" points=${line(trend)}></polyline>`
          : svg`<text class="empty" x=${W / 2} y=${H / 2} text-anchor="middle">The loss appears here as training runs</text>`
      }
      ${nothing}
    </svg>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'mm-loss-chart': LossChart;
  }
}
