import { describe, expect, it } from 'vitest';
import { secondsLeft, timeLeftText } from '../src/ui/run_estimate';

describe('run estimate', () => {
  it('spreads the measured time of the steps done (first step included) over the steps left', () => {
    // 3 of 12 steps took 4.5 s (the first 3 s of it): 1.5 s a step, 9 steps left.
    expect(secondsLeft(3, 12, 3000 + 750 + 750)).toBeCloseTo(13.5, 9);
    expect(timeLeftText(3, 12, 4500)).toBe('about 14 s left');
    expect(timeLeftText(1, 12, 20_000)).toBe('about 3 min 40 s left');
    expect(timeLeftText(1, 2, 80)).toBe('less than a second left');
  });

  it('says nothing before the first step, once the run is done, or from a bad measurement', () => {
    expect(secondsLeft(0, 12, 0)).toBeNull();
    expect(timeLeftText(0, 12, 0)).toBe('');
    expect(timeLeftText(12, 12, 9000)).toBe('');
    expect(timeLeftText(2, 12, Number.NaN)).toBe('');
  });
});
