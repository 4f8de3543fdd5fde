// The token grids of the first `upTo` steps of a MaskGIT run on the engine, then the run is cancelled (a full-size
// step is minutes on SwiftShader): what the whole-model tests compare with PyTorch's grids.
import type { Engine } from '../src/engine/engine';
import { GenerationCancelledError } from '../src/model/errors';
import type { Generator } from '../src/model/generator';
import { maskgitSample, type SampleRequest } from '../src/model/sampler';

export async function firstStepGrids(
  e: Engine,
  model: Generator,
  req: SampleRequest,
  upTo: number,
): Promise<number[][]> {
  const grids: number[][] = [];
  const ac = new AbortController();
  await maskgitSample(
    e,
    model,
    req,
    (s) => {
      grids.push(Array.from(s.tokens));
      if (grids.length >= upTo) ac.abort();
    },
    ac.signal,
  ).catch((err: unknown) => {
    if (!(err instanceof GenerationCancelledError)) throw err;
  });
  return grids;
}
