// The words of the drift guard in the fine-tuning panel, DOM-free: one control's numbers and the summary line of a
// check, against the bounds (DRIFT_BOUNDS, src/finetune/drift.ts).
import { DRIFT_BOUNDS, type DriftReport, type PromptDrift } from '../finetune/drift';

/** "31.2 dB" at 32 px, "same" when the pictures agree there. */
export function psnrText(psnr32: number): string {
  return Number.isFinite(psnr32) ? `${psnr32.toFixed(1)} dB` : 'same';
}

/** One control under its picture: "24.1 dB · colour 0.02 · tokens 12 %". */
export function controlText(d: PromptDrift): string {
  return `${psnrText(d.psnr32)} · colour ${d.colourShareDiff.toFixed(2)} · tokens ${Math.round(d.tokenChange * 100)} %`;
}

/** The summary of a check at `step`: the worst control on each measure, and whether that is within the bounds. */
export function driftSummary(report: DriftReport, step: number, final: boolean): string {
  const w = report.worst;
  const what = final ? `After the run (step ${step})` : `At step ${step}`;
  const numbers =
    `worst 32-px PSNR to the base ${psnrText(w.psnr32)} (bound ≥ ${DRIFT_BOUNDS.minPsnr32} dB), ` +
    `largest colour-share change ${w.colourShareDiff.toFixed(2)} (bound ≤ ${DRIFT_BOUNDS.maxColourShareDiff}), ` +
    `tokens changed up to ${Math.round(w.tokenChange * 100)} %`;
  const n = report.prompts.length;
  return `${what}, ${n} other prompt${n === 1 ? '' : 's'}: ${numbers}.`;
}

/** The warning when a check exceeds the bounds. */
export function driftWarning(stopOnDrift: boolean): string {
  return stopOnDrift
    ? 'The adapter changes prompts it was not taught: the run stops and keeps the adapter of the last check within the bounds.'
    : 'The adapter changes prompts it was not taught (the pictures below drift from the base model). Consider stopping, or use fewer steps, a lower learning rate or a lower adapter strength.';
}
