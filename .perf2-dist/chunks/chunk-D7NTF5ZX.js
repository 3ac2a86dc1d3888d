// src/shared/shutdown.ts
function abortOnSignals(signals = ["SIGTERM", "SIGINT"]) {
  const controller = new AbortController();
  for (const sig of signals) {
    process.on(sig, () => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort(sig);
    });
  }
  return controller.signal;
}

export {
  abortOnSignals
};
//# sourceMappingURL=chunk-D7NTF5ZX.js.map
