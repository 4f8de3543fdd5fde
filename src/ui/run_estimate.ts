// A generation's time left, DOM-free: from the measured time of the steps done so far in this run (the first step
// included: its shader compilation is time the person waits for too), the remaining steps at the same mean pace.
import { formatDuration } from './finetune_speed';

/** Seconds left after `done` of `total` steps took `msSpent` together; null before the first step or once done. */
export function secondsLeft(done: number, total: number, msSpent: number): number | null {
  if (done <= 0 || done >= total || !(msSpent >= 0)) return null;
  return ((msSpent / done) * (total - done)) / 1000;
}

/** "about 12 s left", "about 1 min 05 s left", "less than a second left"; '' when there is nothing to estimate. */
export function timeLeftText(done: number, total: number, msSpent: number): string {
  const s = secondsLeft(done, total, msSpent);
  if (s === null) return '';
  return s < 0.5 ? 'less than a second left' : `about ${formatDuration(s)} left`;
}
