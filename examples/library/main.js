// The example page: start the engine in a worker, load the default generator, generate with per-step images,
// cancel through an AbortSignal. Everything comes from the built library; errors are told apart by class.
import {
  CreateWebWorkerMMambaEngine,
  GENERATION_SETTINGS,
  GenerationCancelledError,
} from '../../dist-lib/mmamba-web.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const status = (text) => ($('status').textContent = text);
/** Where the models are served (index.json, <id>/manifest.json, shards); `?models=` overrides. */
const models = new URLSearchParams(location.search).get('models') ?? '/models/';

function draw(image) {
  const canvas = $('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  canvas
    .getContext('2d')
    .putImageData(new ImageData(new Uint8ClampedArray(image.rgba), image.width, image.height), 0, 0);
}

async function main() {
  const worker = new Worker(new URL(`./worker.js?models=${encodeURIComponent(models)}`, import.meta.url), {
    type: 'module',
  });
  // One extra call to learn the default generator: the engine lists the models it can load.
  const engine = await CreateWebWorkerMMambaEngine(worker);
  const { defaultGenerator } = await engine.listModels();
  await engine.loadModel(defaultGenerator, (p) => {
    if (p.kind === 'download') status(`Loading ${p.modelId}: ${p.percent.toFixed(0)} %`);
  });
  status(`Ready: ${defaultGenerator}`);
  $('steps').max = String(GENERATION_SETTINGS.steps.max);
  $('generate').disabled = false;

  let running = null;
  $('cancel').addEventListener('click', () => running?.abort());
  $('generate').addEventListener('click', async () => {
    running = new AbortController();
    $('generate').disabled = true;
    $('cancel').disabled = false;
    let steps = 0;
    status('Generating…');
    try {
      const result = await engine.generate(
        { prompt: $('prompt').value, seed: 1, steps: Number($('steps').value) },
        {
          signal: running.signal,
          onProgress: (p) => {
            if (p.kind !== 'step') return;
            steps += 1;
            status(`Step ${steps} of ${p.steps}`);
            $('canvas').dataset.steps = String(steps);
            // steps whose preview decode was skipped (paced to the display) carry no pixels: keep the last image
            if (p.pixels) draw({ width: p.width, height: p.height, rgba: p.pixels });
          },
        },
      );
      draw(result.image);
      status(`Done: ${steps} steps, ${result.image.width}×${result.image.height}`);
    } catch (e) {
      status(
        e instanceof GenerationCancelledError
          ? `Cancelled after ${steps} steps (${e.name})`
          : `Failed: ${e.name}: ${e.message}`,
      );
    } finally {
      running = null;
      $('generate').disabled = false;
      $('cancel').disabled = true;
    }
  });
}

main().catch((e) => status(`Could not start: ${e.name}: ${e.message}`));
