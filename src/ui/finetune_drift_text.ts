// The words of the drift guard in the fine-tuning panel, DOM-free: one control's numbers and the summary line of a
// check, against the bounds (DRIFT_BOUNDS, src/finetune/drift.ts). With the word gate (src/finetune/word_gate.ts,
// on by default) a prompt without the adapter's word is drawn by the base model exactly, so the guard's renders force
// the adapter on: what they measure is the LEAKAGE, how far the adapter moves other content, which a prompt that
// mixes the word with other things risks.
import { DRIFT_BOUNDS, type DriftReport, type PromptDrift } from '../finetune/drift';

/** What the guard's pictures are, under its heading. */
export const LEAKAGE_NOTE =
  'Prompts without the new word are drawn by the base model unchanged (unless "Apply to every prompt" is on). ' +
  'These pictures force the adapter on: they show its leakage, what a prompt that mixes the word with other things risks.';

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
  return `${what}, leakage on ${n} other prompt${n === 1 ? '' : 's'} with the adapter forced on: ${numbers}.`;
}

/** The warning when a check exceeds the bounds. */
export function driftWarning(stopOnDrift: boolean): string {
  return stopOnDrift
    ? 'Forced on, the adapter changes prompts it was not taught: the run stops and keeps the adapter of the last check within the bounds.'
    : 'Forced on, the adapter changes prompts it was not taught (the pictures below drift from the base model): prompts that mix its word with other things may drift too; prompts without the word stay as the base model draws them. Consider stopping, or use fewer steps, a lower learning rate or a lower adapter strength.';
}
