// The drift guard's words in the fine-tuning panel (src/ui/finetune_drift_text.ts): numbers, the bounds, "same".
import { describe, expect, it } from 'vitest';
import type { DriftReport } from '../src/finetune/drift';
import { controlText, driftSummary, driftWarning, psnrText } from '../src/ui/finetune_drift_text';

describe('drift guard text', () => {
  it("says each control's drift and the worst against the bounds", () => {
    expect(psnrText(Infinity)).toBe('same');
    expect(psnrText(24.06)).toBe('24.1 dB');
    expect(controlText({ psnr32: 18.25, colourShareDiff: 0.125, tokenChange: 0.5 })).toBe(
      '18.3 dB · colour 0.13 · tokens 50 %',
    );
    const report: DriftReport = {
      prompts: [
        { psnr32: Infinity, colourShareDiff: 0, tokenChange: 0 },
        { psnr32: 15, colourShareDiff: 0.2, tokenChange: 0.75 },
      ],
      worst: { psnr32: 15, colourShareDiff: 0.2, tokenChange: 0.75 },
      withinBounds: false,
    };
    expect(driftSummary(report, 50, false)).toBe(
      'At step 50, leakage on 2 other prompts with the adapter forced on: worst 32-px PSNR to the base 15.0 dB (bound ≥ 20 dB), largest colour-share change 0.20 (bound ≤ 0.05), tokens changed up to 75 %.',
    );
    expect(driftSummary(report, 200, true)).toMatch(
      /^After the run \(step 200\), leakage on 2 other prompts with the adapter forced on:/,
    );
    expect(driftWarning(true)).toMatch(/stops and keeps the adapter of the last check/);
    expect(driftWarning(false)).toMatch(/Consider stopping/);
  });
});
