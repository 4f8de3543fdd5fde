// The engine worker: owns the GPUDevice (and later the weights and all model work) off the main thread,
// and exposes exactly `EngineWorkerApi` through comlink. No DOM here; GPU objects never leave this file's realm.
import * as Comlink from 'comlink';
import { acquireDevice, describeAdapter, type GpuContext } from '../engine/device';
import { WebGPUUnavailableError } from '../engine/errors';
import type { EngineWorkerApi, GenerateRequest, GenerateResult, GpuReport, ModelInfo, ProgressCallback } from './api';

/** The live device, or null before init / after loss or dispose. Invariant: `report` describes `ctx`. */
let ctx: GpuContext | null = null;
let report: GpuReport | null = null;
/** One in-flight init shared by concurrent callers, so two calls never acquire two devices. */
let pending: Promise<GpuReport> | null = null;

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

async function acquire(): Promise<GpuReport> {
  // A worker has its own navigator; WebGPU is exposed to dedicated workers wherever the page has it.
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  try {
    const c = await acquireDevice(gpu, { label: 'm-mamba-worker' });
    ctx = c;
    report = toReport(c);
    // A lost device invalidates everything built on it; the next init() acquires a fresh one.
    void c.device.lost.then((info) => {
      if (ctx === c) {
        console.warn(`[engine worker] GPU device lost (${info.reason}): ${info.message}`);
        ctx = null;
        report = null;
      }
    });
    return report;
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) return { status: 'unavailable', message: e.message };
    return { status: 'error', message: e instanceof Error ? e.message : String(e) };
  }
}

const api: EngineWorkerApi = {
  async init(): Promise<GpuReport> {
    if (report && ctx) return report;
    pending ??= acquire().finally(() => {
      pending = null;
    });
    return pending;
  },

  async listModels(): Promise<ModelInfo[]> {
    // No model ships yet; the manifest reader (public/models/<id>/manifest.json) fills this in.
    return [];
  },

  async loadModel(id: string, _onProgress?: ProgressCallback): Promise<void> {
    throw new Error(`Model "${id}" is not available: no model ships with this build yet.`);
  },

  async generate(_req: GenerateRequest, _onProgress?: ProgressCallback): Promise<GenerateResult> {
    throw new Error('No model is loaded: load a model before generating.');
  },

  async dispose(): Promise<void> {
    const c = ctx;
    ctx = null;
    report = null;
    c?.device.destroy();
  },
};

Comlink.expose(api);
