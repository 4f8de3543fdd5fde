// Whether the GPU the engine got is a software renderer (SwiftShader, llvmpipe/lavapipe, Microsoft's WARP /
// Basic Render Driver): these run WebGPU on the CPU, a step of the shipped model can take a minute, and the page
// should say so instead of "GPU ready". Judged from the adapter info the worker reports (vendor, architecture,
// device, description), the only adapter facts the UI sees.
import type { GpuReport } from '../worker/api';

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|basic render|\bwarp\b|software/i;

/** Steps to suggest on a software adapter: enough to see a picture, few enough to wait for. */
export const SOFTWARE_SUGGESTED_STEPS = 3;

export function isSoftwareAdapter(report: GpuReport | null): boolean {
  if (report?.status !== 'ready') return false;
  const a = report.adapter;
  return [a.vendor, a.architecture, a.device, a.description, report.adapterName].some((s) => SOFTWARE.test(s ?? ''));
}
