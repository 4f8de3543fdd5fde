// Acquires a GPUDevice with the features and limits the engine can use, and reports what it got.
// DOM-free: takes the `GPU` object (navigator.gpu in a browser or worker, `create([])` from npm `webgpu` in Node).
import { WebGPUUnavailableError } from './errors';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export interface GpuContext {
  /** The GPU object and adapter are kept referenced: in Node (Dawn), collecting the instance while its
   *  device lives tears down the native instance under it and crashes the process. */
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  adapterInfo: AdapterSummary;
  /** Features enabled on the device. */
  features: string[];
  /** Limits granted to the device (the subset the engine cares about). */
  limits: Record<string, number>;
  hasF16: boolean;
  hasSubgroups: boolean;
  hasTimestamps: boolean;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Stay inside WebGPU's default limits (what every device guarantees), e.g. to test portability. */
  defaultLimitsOnly?: boolean;
  label?: string;
}

/** Limits the engine raises to the adapter's maximum when allowed; everything else stays at the defaults. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

const REPORTED_LIMITS = [
  ...RAISED_LIMITS,
  'maxUniformBufferBindingSize',
  'maxBindGroups',
  'minStorageBufferOffsetAlignment',
];

const OPTIONAL_FEATURES: GPUFeatureName[] = ['timestamp-query', 'subgroups' as GPUFeatureName, 'shader-f16'];

export async function acquireDevice(gpu: GPU | undefined, opts: AcquireOptions = {}): Promise<GpuContext> {
  if (!gpu) throw new WebGPUUnavailableError('this browser exposes no navigator.gpu');
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new WebGPUUnavailableError('no GPU adapter was found (requestAdapter returned null)');

  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  if (!opts.defaultLimitsOnly) {
    for (const name of RAISED_LIMITS) {
      const v = (adapter.limits as unknown as Record<string, number>)[name];
      if (typeof v === 'number') requiredLimits[name] = v;
    }
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: opts.label ?? 'm-mamba' });
  } catch (e) {
    throw new WebGPUUnavailableError(`requestDevice failed: ${(e as Error).message}`);
  }

  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const adapterInfo: AdapterSummary = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
  };
  const limits: Record<string, number> = {};
  for (const name of REPORTED_LIMITS) {
    const v = (device.limits as unknown as Record<string, number>)[name];
    if (typeof v === 'number') limits[name] = v;
  }
  const features = [...device.features].map(String).sort();
  return {
    gpu,
    adapter,
    device,
    adapterInfo,
    features,
    limits,
    hasF16: device.features.has('shader-f16'),
    hasSubgroups: device.features.has('subgroups' as GPUFeatureName),
    hasTimestamps: device.features.has('timestamp-query'),
  };
}

/** One line naming the adapter, for logs and the UI. */
export function describeAdapter(info: AdapterSummary): string {
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length > 0);
  return parts.length ? [...new Set(parts)].join(' / ') : 'unknown adapter';
}
