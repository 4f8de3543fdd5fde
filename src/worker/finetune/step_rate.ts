// Speed and time left of a fine-tuning run, from the durations of its recent steps. The first step of a run
// compiles the GPU pipelines (seconds on a fresh device, against milliseconds for a step), so it is left out:
// until a second step has been timed there is no estimate (the page says "estimating…").

/** Steps the rolling mean covers. */
export const STEP_RATE_WINDOW = 10;

export class StepRate {
  private seen = 0;
  private readonly recent: number[] = [];

  /** Records the wall-clock seconds of the next step (the first one recorded is ignored: shader compilation). */
  add(seconds: number): void {
    if (this.seen++ === 0) return;
    this.recent.push(seconds);
    if (this.recent.length > STEP_RATE_WINDOW) this.recent.shift();
  }

  /** Steps per second over the recent steps after the first; null while none has been timed. */
  stepsPerSec(): number | null {
    if (this.recent.length === 0) return null;
    return (
      this.recent.length /
      Math.max(
        1e-6,
        this.recent.reduce((a, x) => a + x, 0),
      )
    );
  }

  /** Seconds left for `remainingSteps` more steps at the recent speed; null while estimating. */
  etaSec(remainingSteps: number): number | null {
    const sps = this.stepsPerSec();
    return sps === null ? null : remainingSteps / sps;
  }
}
