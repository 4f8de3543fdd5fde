// The app's engine worker: an MMambaEngine (engine.ts) served to the page's WebWorkerMMambaEngine (client.ts). It owns
// the GPUDevice, the weights and all model work off the main thread; no DOM here, and GPU objects never leave it.
import { serveMMambaEngine } from './handler';

const engine = serveMMambaEngine({ modelBaseUrl: `${import.meta.env.BASE_URL}models/` });

// Dev and test builds only (Vite dev server; never in `vite build`): e2e tests trigger a device loss from the
// worker's global scope (Playwright's worker.evaluate) to check the recovery path.
if (import.meta.env.DEV)
  (self as unknown as { __mmLoseDevice?: () => void }).__mmLoseDevice = () => engine.loseDevice();
