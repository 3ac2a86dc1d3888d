// src/shared/serial.ts
function coalesce(task, { signal, onError }) {
  let running = null;
  let again = false;
  const trigger = () => {
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
  return Object.assign(trigger, { idle: async () => void await running });
}
function untilAborted(signal) {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

export {
  coalesce,
  untilAborted
};
//# sourceMappingURL=chunk-GPRVVA7K.js.map
