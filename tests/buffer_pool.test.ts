// The engine's buffer pool: size classes (never smaller than asked, at most 25 % larger above 1 KiB, multiples of
// 256 bytes, monotonic), reuse of a released buffer for the next request of its class, and the live / peak / pooled
// byte accounting that the memory benchmarks report; which free buffer a request gets depends on which are free,
// not on the order they were released in (so a repeated model step binds the same buffers).
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../src/engine/buffer_pool';
import { freshSeed, getEngine, rng } from './gpu';

describe('buffer pool', () => {
  const seed = freshSeed();
  it(`size classes: enough, little waste, 256-byte multiples, monotonic (seed ${seed})`, () => {
    const r = rng(seed);
    let prev = 0;
    const sizes = [
      1,
      4,
      255,
      256,
      257,
      511,
      512,
      513,
      1000,
      1025,
      4096,
      4097,
      5121,
      2_228_224,
      8_912_896,
      89_237_504,
      2 ** 27 + 1,
    ];
    for (let i = 0; i < 2000; i++) sizes.push(Math.floor(1 + r() * 2 ** (8 + r() * 20)));
    for (const b of sizes.sort((x, y) => x - y)) {
      const c = BufferPool.sizeClass(b);
      expect(c).toBeGreaterThanOrEqual(b);
      expect(c % 256).toBe(0);
      if (b > 1024) expect(c).toBeLessThanOrEqual(1.25 * b);
      expect(c).toBeGreaterThanOrEqual(prev);
      prev = c;
    }
    // the examples of the file header: (4, 272, 512) and (4, 4, 272, 512) f32
    expect(BufferPool.sizeClass(4 * 272 * 512 * 4)).toBe(2.5 * 2 ** 20);
    expect(BufferPool.sizeClass(4 * 4 * 272 * 512 * 4)).toBe(10 * 2 ** 20);
  });

  it('a released buffer serves the next request of its class; live, peak and pooled bytes add up', async () => {
    const e = await getEngine();
    const pool = new BufferPool(e.device);
    const a = pool.acquire(3000);
    const cls = BufferPool.sizeClass(3000);
    expect(a.size).toBe(cls);
    expect(pool.liveBytes).toBe(cls);
    const b = pool.acquire(cls - 10); // same class, another buffer while a is live
    expect(b).not.toBe(a);
    expect(pool.peakLiveBytes).toBe(2 * cls);
    pool.release(a);
    expect(pool.liveBytes).toBe(cls);
    expect(pool.pooledBytes).toBe(cls);
    expect(pool.acquire(2900)).toBe(a); // reused, not allocated
    expect(pool.pooledBytes).toBe(0);
    expect(pool.acquire(10_000)).not.toBe(a);
    expect(pool.peakLiveBytes).toBe(2 * cls + BufferPool.sizeClass(10_000));
    pool.dispose();
  });

  it(`a request gets the free buffer made first, whatever the release order (seed ${seed})`, async () => {
    const e = await getEngine();
    const pool = new BufferPool(e.device);
    const made = Array.from({ length: 6 }, () => pool.acquire(5000));
    const r = rng(seed);
    for (let round = 0; round < 5; round++) {
      const order = [...made].sort(() => r() - 0.5); // release in a random order
      for (const b of order) pool.release(b);
      const again = Array.from({ length: 6 }, () => pool.acquire(4900));
      for (let i = 0; i < 6; i++) expect(again[i], `round ${round}, request ${i}`).toBe(made[i]);
    }
    // with some still live, the free ones come back made-first
    for (const i of [4, 1, 3]) pool.release(made[i]!);
    expect([pool.acquire(5000), pool.acquire(5000), pool.acquire(5000)]).toEqual([made[1], made[3], made[4]]);
    pool.dispose();
  });
});
