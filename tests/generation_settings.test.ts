// The one schema of the generation settings (src/model/settings.ts): every default lies in its range, the check
// refuses what is outside [min, max] or not a finite number with a message naming the setting and the range, and
// the UI's clamping moves a value into range (rounding integer settings); a generator's recommended sampling settings
// (index.json `sampling`) are checked the same way and fall back to the page-wide defaults. No GPU.
import { describe, expect, it } from 'vitest';
import {
  clampSetting,
  GENERATION_SETTINGS,
  SAMPLING_SETTINGS,
  samplingDefault,
  samplingDefaultsProblem,
  settingProblem,
  type GenerationSettingName,
} from '../src/model/settings';

const names = Object.keys(GENERATION_SETTINGS) as GenerationSettingName[];

describe('generation settings', () => {
  it('defaults lie in their ranges and pass the check', () => {
    for (const name of names) {
      const s = GENERATION_SETTINGS[name];
      expect(s.min).toBeLessThan(s.max);
      if ('default' in s) expect(settingProblem(name, s.default)).toBeUndefined();
      expect(settingProblem(name, s.min)).toBeUndefined();
      expect(settingProblem(name, s.max)).toBeUndefined();
    }
  });

  it('refuses values outside the range or not numbers, naming the setting and the range', () => {
    expect(settingProblem('steps', 65)).toBe('steps is 65; it must be a number from 1 to 64');
    expect(settingProblem('guidance', -0.5)).toBe('guidance is -0.5; it must be a number from 0 to 20');
    expect(settingProblem('temperature', Number.NaN)).toMatch(/^temperature is NaN/);
    expect(settingProblem('tau', '4')).toMatch(/^tau is "4"/);
    expect(settingProblem('seed', null)).toMatch(/^seed is null/);
  });

  it('clamps into the range and rounds integer settings', () => {
    expect(clampSetting('steps', 100)).toBe(64);
    expect(clampSetting('steps', 0)).toBe(1);
    expect(clampSetting('steps', 11.6)).toBe(12);
    expect(clampSetting('guidance', 7.25)).toBe(7.25);
    expect(clampSetting('guidance', -3)).toBe(0);
    expect(clampSetting('seed', 2 ** 33)).toBe(4294967295);
    expect(clampSetting('seed', 3.4)).toBe(3);
  });

  it("a generator's recommended sampling settings: checked like a request's, missing ones are the page-wide defaults", () => {
    const m3 = { steps: 12, guidance: 3, tau: 1.5, temperature: 0.8 };
    expect(samplingDefaultsProblem(m3)).toBeUndefined();
    expect(samplingDefaultsProblem({})).toBeUndefined();
    for (const name of SAMPLING_SETTINGS) {
      expect(samplingDefault(name, m3)).toBe(m3[name]);
      expect(samplingDefault(name, { [name === 'steps' ? 'guidance' : 'steps']: 2 })).toBe(
        GENERATION_SETTINGS[name].default,
      );
      expect(samplingDefault(name, undefined)).toBe(GENERATION_SETTINGS[name].default);
      expect(samplingDefault(name, null)).toBe(GENERATION_SETTINGS[name].default);
    }
    expect(samplingDefaultsProblem({ guidance: 25 })).toBe(
      'sampling: guidance is 25; it must be a number from 0 to 20',
    );
    expect(samplingDefaultsProblem({ steps: 11.5 })).toBe('sampling: steps is 11.5; it must be a whole number');
    expect(samplingDefaultsProblem({ tau: '1.5' })).toMatch(/^sampling: tau is "1.5"/);
    expect(samplingDefaultsProblem({ seed: 4 })).toBe(
      'sampling names "seed"; it may set steps, guidance, tau, temperature',
    );
    expect(samplingDefaultsProblem({ variations: 2 })).toMatch(/^sampling names "variations"/);
    for (const bad of [null, [], 'g3', 4])
      expect(samplingDefaultsProblem(bad), String(bad)).toMatch(/^sampling is .*; it must be an object like/);
  });
});
