/**
 * Daemon helpers shared by the participant and aggregator loops.
 *
 * `coalesce(task)`: calls never overlap; a call that arrives while the task runs
 * makes it run once more afterwards (however many calls arrived), so a burst of
 * file events costs at most one extra pass. Errors go to `onError`; the loop
 * stays alive.
 */
interface Coalesced {
  /** Run now, or once more after the current run; resolves when that run is done. */
  (): Promise<void>;
  /** Resolves when no run is in progress. */
  idle(): Promise<void>;
}

export function coalesce(task: () => Promise<void>, { signal, onError }: { signal: AbortSignal; onError: (err: unknown) => void }): Coalesced {
  let running: Promise<void> | null = null;
  let again = false;
  const trigger = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await task();
        } catch (err) {
          if (!signal.aborted) onError(err);
        }
      } while (again && !signal.aborted);
    })().finally(() => {
      running = null;
    });
    return running;
  };
  return Object.assign(trigger, { idle: async () => void (await running) });
}

/** Resolves when `signal` aborts (at once if it already has). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
