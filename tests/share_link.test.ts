// Settings in the page URL (src/ui/share_link.ts): valid values are read, bad ones are ignored with a reason,
// writing keeps other parameters and round-trips through reading. Software-adapter detection
// (src/ui/gpu_kind.ts) from adapter info. No GPU, no DOM.
import { describe, expect, it } from 'vitest';
import { isSoftwareAdapter } from '../src/ui/gpu_kind';
import { readSharedSettings, withSharedSettings } from '../src/ui/share_link';
import type { GpuReport } from '../src/worker/api';

describe('settings in the URL', () => {
  it('reads valid values', () => {
    const r = readSharedSettings('?prompt=red%20apple&negative=dark&seed=42&steps=3&guidance=2.5');
    expect(r).toEqual({
      settings: { prompt: 'red apple', negativePrompt: 'dark', seed: 42, steps: 3, guidance: 2.5 },
      ignored: [],
    });
    expect(readSharedSettings('')).toEqual({ settings: {}, ignored: [] });
    expect(readSharedSettings('?seed=4294967295&prompt=').settings).toEqual({ seed: 4294967295, prompt: '' });
  });

  it('ignores bad values with a reason and keeps the good ones', () => {
    const r = readSharedSettings('?prompt=cat&seed=-1&steps=999&guidance=abc');
    expect(r.settings).toEqual({ prompt: 'cat' });
    expect(r.ignored).toEqual([
      'seed=-1 (must be a number from 0 to 4294967295)',
      'steps=999 (must be a number from 1 to 64)',
      'guidance=abc (must be a number from 0 to 20)',
    ]);
    expect(readSharedSettings('?steps=2.5&seed=&guidance=Infinity').ignored).toEqual([
      'seed= (must be a number from 0 to 4294967295)',
      'steps=2.5 (must be a whole number)',
      'guidance=Infinity (must be a number from 0 to 20)',
    ]);
    expect(readSharedSettings(`?prompt=${'a'.repeat(2001)}`).ignored).toEqual(['prompt (longer than 2000 characters)']);
  });

  it('writes the request, keeps other parameters and round-trips', () => {
    const href = withSharedSettings('http://x/app/?engine-heartbeat-timeout=5000&negative=old#h', {
      prompt: 'a & b=c',
      seed: 7,
      steps: 2,
      guidance: 1,
    });
    const url = new URL(href);
    expect(url.pathname).toBe('/app/');
    expect(url.hash).toBe('#h');
    expect(url.searchParams.get('engine-heartbeat-timeout')).toBe('5000');
    expect(url.searchParams.has('negative')).toBe(false);
    expect(readSharedSettings(url.search)).toEqual({
      settings: { prompt: 'a & b=c', seed: 7, steps: 2, guidance: 1 },
      ignored: [],
    });
    const withNeg = withSharedSettings(href, {
      prompt: 'p',
      negativePrompt: 'blurry',
      seed: 1,
      steps: 12,
      guidance: 4,
    });
    expect(readSharedSettings(new URL(withNeg).search).settings.negativePrompt).toBe('blurry');
  });
});

describe('software adapters', () => {
  const ready = (vendor: string, architecture: string, description = ''): GpuReport => ({
    status: 'ready',
    adapter: { vendor, architecture, device: '', description },
    adapterName: [vendor, architecture].join(' / '),
    features: [],
    limits: {},
    hasF16: false,
    hasSubgroups: false,
    hasTimestamps: false,
  });
  it('recognises SwiftShader, llvmpipe and WARP, not hardware', () => {
    expect(isSoftwareAdapter(ready('google', 'swiftshader'))).toBe(true);
    expect(isSoftwareAdapter(ready('mesa', '', 'llvmpipe (LLVM 15.0.6, 256 bits)'))).toBe(true);
    expect(isSoftwareAdapter(ready('microsoft', '', 'Microsoft Basic Render Driver'))).toBe(true);
    expect(isSoftwareAdapter(ready('nvidia', 'hopper'))).toBe(false);
    expect(isSoftwareAdapter(ready('apple', 'metal-3'))).toBe(false);
    expect(isSoftwareAdapter(null)).toBe(false);
    expect(isSoftwareAdapter({ status: 'error', message: 'swiftshader' })).toBe(false);
  });
});
