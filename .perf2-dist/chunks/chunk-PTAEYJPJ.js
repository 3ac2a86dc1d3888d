import {
  cryptoRandom
} from "./chunk-OPHXPK3N.js";
import {
  createMatcher,
  loadCatalog
} from "./chunk-FC2Z3HKA.js";

// src/participant/context.ts
async function createParticipantContext(config, ws, logger) {
  const catalog = await loadCatalog(config.CATALOG_PATH);
  return {
    config,
    ws,
    catalog,
    matcher: createMatcher(catalog),
    logger,
    now: () => /* @__PURE__ */ new Date(),
    noiseRandom: cryptoRandom
  };
}

export {
  createParticipantContext
};
//# sourceMappingURL=chunk-PTAEYJPJ.js.map
