/** Waiting for something with a deadline, where the deadline may be "none". */

/** setTimeout's limit; a longer wait (Infinity included) has no timer at all. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** True if `work` settled within `ms`, false if the time ran out first (the timer is cleared either way). */
export async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms > MAX_TIMER_MS) return work.then(() => true, () => true);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = await Promise.race([work.then(() => true, () => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))))]);
  clearTimeout(timer);
  return done;
}
