// The fine-tuning panel's speed line, DOM-free: "12.50 steps/s · 16 s left", or "estimating…" while the worker has
// no estimate yet (its StepRate leaves out the first step, which compiles the shaders).

/** "1 min 05 s", "12 s". */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '—';
  const s = Math.round(sec);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** The speed line after `step` steps; `running`: the time left is shown (not once the run ended). */
export function speedText(step: number, stepsPerSec: number | null, etaSec: number | null, running: boolean): string {
  if (step === 0) return '';
  if (stepsPerSec === null) return running ? 'estimating…' : '';
  const speed = `${stepsPerSec.toFixed(2)} steps/s`;
  return running && etaSec !== null ? `${speed} · ${formatDuration(etaSec)} left` : speed;
}
