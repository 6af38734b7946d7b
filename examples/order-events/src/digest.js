/**
 * The scheduled digest: the 24-hour window it reports on, ending at the time of the schedule's
 * event (EventBridge's `time`), or now when invoked by hand.
 */
const DAY_MS = 24 * 60 * 60 * 1000;

export async function handler(event) {
  return { stage: process.env.STAGE ?? 'unknown', ...reportingWindow(event?.time) };
}

/** The window of the 24 hours before `time` (ISO 8601), or before now. */
export function reportingWindow(time, now = Date.now()) {
  const end = time === undefined ? now : Date.parse(time);
  if (Number.isNaN(end)) {
    throw new Error(`not a time: ${time}`);
  }
  return { from: new Date(end - DAY_MS).toISOString(), to: new Date(end).toISOString() };
}
