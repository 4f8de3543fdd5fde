// The GPU device the engine works on: acquired once (concurrent callers share one request), watched for loss, and
// re-acquired by the next request after a loss. What is built on the device (pipelines, a fine-tuning run) belongs
// to the owner, who is told to drop it through `DeviceOwner` before the engine goes.
//
// Invariants: `report` describes `ctx`; both are null before init and after a loss or `release`. A loss is noted
// (`takeLost`) so that the request that recovers can say so, once.
import { acquireDevice, describeAdapter, type GpuContext } from '../../engine/device';
import { Engine } from '../../engine/engine';
import { GpuDeviceLostError, WebGPUUnavailableError } from '../../engine/errors';
import type { GpuReport } from '../api';

export interface DeviceOwner {
  /** The device was lost while idle or mid-work: stop the work in flight (it will fail). */
  abortWork(): void;
  /** Dispose everything built on the device; `lost`: the device-loss error, when it was lost. */
  dropDependents(lost?: Error): void;
}

function toReport(c: GpuContext): GpuReport {
  return {
    status: 'ready',
    adapter: { ...c.adapterInfo },
    adapterName: describeAdapter(c.adapterInfo),
    features: [...c.features],
    limits: { ...c.limits },
    hasF16: c.hasF16,
    hasSubgroups: c.hasSubgroups,
    hasTimestamps: c.hasTimestamps,
  };
}

export class DeviceKeeper {
  private ctx: GpuContext | null = null;
  private report: GpuReport | null = null;
  private engine: Engine | null = null;
  /** One in-flight init shared by concurrent callers, so two calls never acquire two devices. */
  private pending: Promise<GpuReport> | null = null;
  /** Set when the device was lost; cleared (and reported) by the request that recovers. */
  private lostMessage: string | null = null;

  constructor(
    private readonly owner: DeviceOwner,
    private readonly label: string,
  ) {}

  /** True once the device was lost and no request has recovered from it yet. */
  get wasLost(): boolean {
    return this.lostMessage !== null;
  }

  /** The engine is built and its device lives. */
  get isLive(): boolean {
    return this.engine !== null && !this.engine.isLost;
  }

  /** Acquire the device (idempotent while it lives). */
  async init(): Promise<GpuReport> {
    if (this.report && this.ctx) return this.report;
    this.pending ??= this.acquire().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /** The engine, re-acquiring the device when it was lost. Throws when no device can be had. */
  async ensureEngine(): Promise<Engine> {
    if (!this.engine || !this.ctx || this.engine.isLost) {
      if (this.engine?.isLost && this.ctx) {
        // The engine saw the loss before the device.lost handler ran: drop the dead device now.
        this.lostMessage ??= 'The GPU device was lost. It was re-acquired.';
        this.forget(new GpuDeviceLostError('unknown', 'noticed by the engine'));
      }
      const r = await this.init();
      if (r.status !== 'ready') throw new WebGPUUnavailableError(r.message);
    }
    return this.engine!;
  }

  /** Takes the pending device-loss note (once), for the request that recovers from it. */
  takeLost(): string | null {
    const m = this.lostMessage;
    this.lostMessage = null;
    return m;
  }

  /** Drops everything built on the device and destroys it (the next request acquires a new one). */
  release(): void {
    const c = this.ctx;
    this.forget();
    c?.device.destroy();
  }

  /** Destroys the device as a driver reset would (tests of the recovery path). */
  loseDevice(): void {
    this.ctx?.device.destroy();
  }

  private async acquire(): Promise<GpuReport> {
    // A worker has its own navigator; WebGPU is exposed to dedicated workers wherever the page has it.
    const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
    try {
      const c = await acquireDevice(gpu, { label: this.label });
      this.ctx = c;
      this.report = toReport(c);
      this.engine = new Engine(c);
      void c.device.lost.then((info) => this.onLost(c, info));
      return this.report;
    } catch (e) {
      if (e instanceof WebGPUUnavailableError) return { status: 'unavailable', message: e.message };
      return { status: 'error', message: e instanceof Error ? e.message : String(e) };
    }
  }

  private onLost(c: GpuContext, info: GPUDeviceLostInfo): void {
    if (this.ctx !== c) return; // destroyed by release(), or already replaced
    const err = new GpuDeviceLostError(info.reason ?? 'unknown', info.message || 'no detail');
    console.warn(`[engine] ${err.message}`);
    this.lostMessage = err.message;
    this.owner.abortWork();
    this.forget(err);
  }

  /** Forgets the device and disposes what was built on it (best effort: after a loss, dispose may itself complain). */
  private forget(lost?: Error): void {
    this.ctx = null;
    this.report = null;
    this.owner.dropDependents(lost);
    try {
      this.engine?.dispose();
    } catch (e) {
      console.warn('[engine] engine dispose failed', e);
    }
    this.engine = null;
  }
}
