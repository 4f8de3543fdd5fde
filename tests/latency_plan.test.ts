// bench/latency_plan.ts: the FUSIONS variants, the rotated interleaving and the run statistics of the latency
// benchmark (bench/latency.ts); pure, no GPU.
import { describe, expect, it } from 'vitest';
import { parseVariants, rotate, stats } from '../bench/latency_plan';
import { allFusions, defaultFusions, FUSION_NAMES, noFusions } from '../src/model/fusions';

describe('latency benchmark plan', () => {
  it('parses all, none, -NAME and +NAME', () => {
    const v = parseVariants('all, none,-dtSlice,+headSlice');
    expect(v.map((x) => x.name)).toEqual(['all', 'none', '-dtSlice', '+headSlice']);
    expect(v[0]!.fusions).toEqual(allFusions());
    expect(v[1]!.fusions).toEqual(noFusions());
    expect(v[2]!.fusions).toEqual({ ...allFusions(), dtSlice: false });
    expect(v[3]!.fusions).toEqual({ ...noFusions(), headSlice: true });
    // every fusion has a switch, and all / none really differ in each
    for (const n of FUSION_NAMES) expect([allFusions()[n], noFusions()[n]]).toEqual([true, false]);
  });

  it("parses 'default': the models' set, all but the fusions the H200 measured slower", () => {
    const [d] = parseVariants('default');
    expect(d!.fusions).toEqual(defaultFusions());
    expect(defaultFusions()).toEqual({ ...allFusions(), vqConvRows2: false, vqSmallTiles: false });
  });

  it('parses default+NAME and default-NAME: the default set with NAME switched on / off', () => {
    const v = parseVariants('default+vqSmallTiles,default-chunkedScan,default-dtSlice');
    expect(v.map((x) => x.name)).toEqual(['default+vqSmallTiles', 'default-chunkedScan', 'default-dtSlice']);
    expect(v[0]!.fusions).toEqual({ ...defaultFusions(), vqSmallTiles: true });
    expect(v[1]!.fusions).toEqual({ ...defaultFusions(), chunkedScan: false });
    expect(v[2]!.fusions).toEqual({ ...defaultFusions(), dtSlice: false });
    expect(v[0]!.fusions.vqSmallTiles).not.toBe(defaultFusions().vqSmallTiles);
    expect(v[1]!.fusions.chunkedScan).not.toBe(defaultFusions().chunkedScan);
    expect(v[2]!.fusions.dtSlice).not.toBe(defaultFusions().dtSlice);
  });

  it('refuses unknown or empty variants', () => {
    expect(() => parseVariants('-nope')).toThrow(/FUSIONS/);
    expect(() => parseVariants('dtSlice')).toThrow(/FUSIONS/);
    expect(() => parseVariants(' , ')).toThrow(/FUSIONS/);
    expect(() => parseVariants('default+nope')).toThrow(/FUSIONS/);
    expect(() => parseVariants('default*dtSlice')).toThrow(/FUSIONS/);
    expect(() => parseVariants('defaultdtSlice')).toThrow(/FUSIONS/);
  });

  it('rotation puts every variant in every position once per n rounds', () => {
    const n = 4;
    const seen = Array.from({ length: n }, () => new Set<number>());
    for (let r = 0; r < n; r++) {
      const order = rotate(n, r);
      expect([...order].sort()).toEqual([0, 1, 2, 3]);
      for (const [pos, v] of order.entries()) seen[v]!.add(pos);
    }
    for (const s of seen) expect(s.size).toBe(n);
  });

  it('median and min', () => {
    expect(stats([5, 1, 3])).toEqual({ median: 3, min: 1, n: 3 });
    expect(stats([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, n: 4 });
    expect(stats([]).n).toBe(0);
  });
});
