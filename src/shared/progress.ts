import { performance } from 'node:perf_hooks';

/** "42 s" or "3 min 5 s". */
export function formatSeconds(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

export interface TickerOptions {
  /** Lines over the whole loop (default 4). */
  lines?: number;
  /** Loops shorter than this log nothing (default 200). */
  minTotal?: number;
}

/**
 * A progress ticker for a long loop: call it with the count done after each step; a few
 * times over the loop it logs "<what> i/n (… ms each), ETA …". Short loops stay quiet.
 */
export function progressTicker(log: (line: string) => void, what: string, total: number, options: TickerOptions = {}): (done: number) => void {
  const { lines = 4, minTotal = 200 } = options;
  const start = performance.now();
  const every = Math.max(1, Math.ceil(total / lines));
  return (done) => {
    if (total < minTotal || done % every !== 0 || done === total) return;
    const each = (performance.now() - start) / done;
    log(`${what} ${done}/${total} (${Math.round(each * 10) / 10} ms each), ETA ${formatSeconds(each * (total - done))}`);
  };
}
