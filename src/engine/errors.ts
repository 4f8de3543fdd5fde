// Typed errors of the engine. Each message says what happened and what the user or caller can do about it.

export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** navigator.gpu is missing, or no adapter/device could be had. */
export class WebGPUUnavailableError extends EngineError {
  constructor(detail: string) {
    super(
      `WebGPU is not available: ${detail}. Use a browser with WebGPU (Chrome or Edge 113+, Safari 26+, ` +
        `Firefox 141+ on Windows); on Linux Chrome may need chrome://flags/#enable-unsafe-webgpu and Vulkan.`,
    );
  }
}

/** The GPU device was lost (driver reset, tab in background too long, out of memory). Recoverable by re-acquiring. */
export class GpuDeviceLostError extends EngineError {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(`The GPU device was lost (${reason}: ${detail}). It will be re-acquired on the next request.`);
  }
}

/** A WGSL module failed to compile or a pipeline failed validation: a bug in the engine, not the user's input. */
export class ShaderError extends EngineError {}

/** A tensor shape or dtype does not fit the operation. */
export class ShapeError extends EngineError {}

/** Downloaded or cached weights do not match their manifest (sha256, size, format). */
export class WeightIntegrityError extends EngineError {}

/** A buffer would exceed the device's limits. */
export class GpuLimitError extends EngineError {}
