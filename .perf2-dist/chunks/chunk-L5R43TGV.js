import {
  respondToSecureRound
} from "./chunk-PW473JHD.js";
import {
  advanceSecureRound
} from "./chunk-WGELUT3Z.js";

// src/simulate/secure-round.ts
var MAX_STEPS = 16;
async function runSecureRoundInProcess(aggregator, members, options = {}) {
  const dropped = /* @__PURE__ */ new Set();
  let step = await advanceSecureRound(aggregator);
  if (step.action === "idle") {
    aggregator.logger.info({ reason: step.reason }, "no secure round could open");
    return null;
  }
  for (let i = 0; i < MAX_STEPS; i++) {
    const phase = step.action === "finished" ? null : step.action === "waiting" ? step.phase : phaseAfter(step.action);
    for (const [index, member] of members.entries()) {
      if (dropped.has(index) || phase !== null && options.drops?.(index, phase)) {
        dropped.add(index);
        continue;
      }
      await respondToSecureRound(member);
    }
    if (step.action === "finished") return step.summary;
    step = await advanceSecureRound(aggregator);
    if (step.action === "waiting") step = await advanceSecureRound(aggregator, { force: true });
  }
  throw new Error(`the secure round did not finish within ${MAX_STEPS} steps (last: ${JSON.stringify(step)})`);
}
function phaseAfter(action) {
  switch (action) {
    case "opened":
    case "idle":
      return "keys";
    case "cohort":
      return "shares";
    case "routed":
      return "masked";
    case "unmask":
      return "reveal";
  }
}

export {
  runSecureRoundInProcess
};
//# sourceMappingURL=chunk-L5R43TGV.js.map
