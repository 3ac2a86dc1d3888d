/**
 * SIGTERM/SIGINT -> an AbortSignal. SyftBox sends SIGTERM and follows with SIGKILL
 * 3 s later, so long-running loops watch this signal and stop promptly; a second
 * signal exits at once.
 */
export function abortOnSignals(signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): AbortSignal {
  const controller = new AbortController();
  for (const sig of signals) {
    process.on(sig, () => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort(sig);
    });
  }
  return controller.signal;
}
