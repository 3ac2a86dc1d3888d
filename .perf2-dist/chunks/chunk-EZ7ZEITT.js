import {
  addGaussianNoise,
  deltaNoiseSigma
} from "./chunk-OPHXPK3N.js";
import {
  clipL2
} from "./chunk-TBES3XCL.js";
import {
  matchEvents
} from "./chunk-FC2Z3HKA.js";

// src/shared/model/factorize.ts
import { CholeskyDecomposition, Matrix, solve } from "ml-matrix";
function confidenceWeight(confidence, alpha) {
  return 1 + alpha * confidence;
}
function gramian(V, items, rank) {
  checkShape(V, items, rank, "V");
  const G = new Float64Array(rank * rank);
  const scratch = new Float64Array(rank);
  for (let i = 0; i < items; i++) addOuterUpper(G, V, i * rank, rank, 1, scratch);
  mirrorUpper(G, rank);
  return G;
}
function solveUser(V, rank, interactions, params, gram) {
  const items = V.length / rank;
  const A = gram ? gram.slice() : gramian(V, items, rank);
  const b = new Float64Array(rank);
  const scratch = new Float64Array(rank);
  for (const { item, preference, confidence } of interactions) {
    const row = checkItem(item, items) * rank;
    const c = confidenceWeight(confidence, params.alpha);
    addOuterUpper(A, V, row, rank, c - 1, scratch);
    for (let a = 0; a < rank; a++) b[a] += c * preference * V[row + a];
  }
  mirrorUpper(A, rank);
  for (let a = 0; a < rank; a++) A[a * rank + a] += params.reg;
  return Float32Array.from(solveSymmetric(A, b, rank));
}
function trainLocal(Vglobal, interactions, options) {
  const { items, rank, reg, alpha, epochs, lr } = options;
  checkShape(Vglobal, items, rank, "Vglobal");
  const V = Vglobal.slice();
  const G = options.gram ? options.gram.slice() : gramian(V, items, rank);
  const n = interactions.length;
  const rows = new Int32Array(n);
  const weights = new Float64Array(n);
  let maxWeight = 1;
  const seen = /* @__PURE__ */ new Set();
  interactions.forEach(({ item, confidence }, i) => {
    if (seen.has(item)) throw new RangeError(`item ${item} appears twice in the interactions; give one Interaction per item`);
    seen.add(item);
    rows[i] = checkItem(item, items) * rank;
    weights[i] = confidenceWeight(confidence, alpha);
    maxWeight = Math.max(maxWeight, weights[i]);
  });
  const oldRows = new Float64Array(n * rank);
  const scores = new Float64Array(items);
  const scratch = new Float64Array(rank);
  const loss = [];
  let u = solveUser(V, rank, interactions, options, G);
  const u64 = new Float64Array(rank);
  for (let epoch = 0; ; epoch++) {
    u64.set(u);
    computeScores(u64, V, items, rank, scores);
    loss.push(userLoss(u, V, rank, scores, interactions, options));
    if (epoch === epochs) break;
    let uNormSq = 0;
    for (let a = 0; a < rank; a++) uNormSq += u64[a] * u64[a];
    const eta = Math.min(lr, 1 / (2 * (maxWeight * uNormSq + reg)));
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < rank; a++) oldRows[i * rank + a] = V[rows[i] + a];
      addOuterUpper(G, V, rows[i], rank, -1, scratch);
    }
    mirrorUpper(G, rank);
    for (let j = 0, off = 0; j < items; j++, off += rank) {
      const step = 2 * eta * scores[j];
      for (let a = 0; a < rank; a++) V[off + a] -= step * u64[a];
    }
    transformGramian(G, u64, 2 * eta, rank);
    for (let i = 0; i < n; i++) {
      const { preference, item } = interactions[i];
      const err = weights[i] * (scores[item] - preference);
      for (let a = 0; a < rank; a++) {
        const old = oldRows[i * rank + a];
        V[rows[i] + a] = old - 2 * eta * (err * u64[a] + reg * old);
      }
      addOuterUpper(G, V, rows[i], rank, 1, scratch);
    }
    mirrorUpper(G, rank);
    u = solveUser(V, rank, interactions, options, G);
  }
  return { u, V, loss };
}
function trainCentral(users, items, rank, params, V0) {
  checkShape(V0, items, rank, "V0");
  const V = V0.slice();
  const U = new Float32Array(users.length * rank);
  const byItem = invertInteractions(users, items);
  const A = new Float64Array(rank * rank);
  const b = new Float64Array(rank);
  const scratch = new Float64Array(rank);
  const loss = [];
  const solveUsers = () => {
    const G = gramian(V, items, rank);
    users.forEach((interactions, user) => U.set(solveUser(V, rank, interactions, params, G), user * rank));
  };
  solveUsers();
  loss.push(totalLoss(U, V, users, items, rank, params));
  for (let iteration = 0; iteration < params.iterations; iteration++) {
    const GU = gramian(U, users.length, rank);
    for (let j = 0; j < items; j++) {
      const start = byItem.start[j];
      const end = byItem.start[j + 1];
      if (start === end) {
        V.fill(0, j * rank, (j + 1) * rank);
        continue;
      }
      A.set(GU);
      b.fill(0);
      for (let e = start; e < end; e++) {
        const row = byItem.user[e] * rank;
        const c = confidenceWeight(byItem.confidence[e], params.alpha);
        addOuterUpper(A, U, row, rank, c - 1, scratch);
        for (let a = 0; a < rank; a++) b[a] += c * byItem.preference[e] * U[row + a];
      }
      mirrorUpper(A, rank);
      for (let a = 0; a < rank; a++) A[a * rank + a] += params.reg * (end - start);
      V.set(solveSymmetric(A, b, rank), j * rank);
    }
    solveUsers();
    loss.push(totalLoss(U, V, users, items, rank, params));
  }
  return { V, U, loss };
}
function predictExplicit(user, V, item, rank, mean) {
  let s = mean + user.bias;
  for (let a = 0, off = item * rank; a < rank; a++) s += user.u[a] * V[off + a];
  return s;
}
function solveUserExplicit(V, rank, ratings, params) {
  const items = V.length / rank;
  const last = rank - 1;
  const A = new Float64Array(rank * rank);
  const b = new Float64Array(rank);
  const x = new Float64Array(rank);
  for (const { item, preference } of ratings) {
    const row = checkItem(item, items) * rank;
    for (let a = 0; a < last; a++) x[a] = V[row + a];
    x[last] = 1;
    const target = preference - params.mean - V[row + last];
    for (let a = 0; a < rank; a++) {
      b[a] += target * x[a];
      for (let c = a; c < rank; c++) A[a * rank + c] += x[a] * x[c];
    }
  }
  mirrorUpper(A, rank);
  for (let a = 0; a < rank; a++) A[a * rank + a] += params.reg;
  const w = solveSymmetric(A, b, rank);
  const u = Float32Array.from(w);
  u[last] = 1;
  return { u, bias: w[last] };
}
function trainLocalExplicit(Vglobal, ratings, options) {
  const { items, rank, reg, epochs, lr } = options;
  checkShape(Vglobal, items, rank, "Vglobal");
  const V = Vglobal.slice();
  const loss = [];
  let user = solveUserExplicit(V, rank, ratings, options);
  for (let epoch = 0; ; epoch++) {
    loss.push(explicitUserLoss(user, V, rank, ratings, options));
    if (epoch === epochs) break;
    let uNormSq = 0;
    for (let a = 0; a < rank; a++) uNormSq += user.u[a] * user.u[a];
    const eta = Math.min(lr, 1 / (2 * (uNormSq + reg)));
    const errors = ratings.map(({ item, preference }) => preference - predictExplicit(user, V, item, rank, options.mean));
    ratings.forEach(({ item }, i) => {
      for (let a = 0, off = item * rank; a < rank; a++) V[off + a] -= 2 * eta * (reg * V[off + a] - errors[i] * user.u[a]);
    });
    user = solveUserExplicit(V, rank, ratings, options);
  }
  return { ...user, V, loss };
}
function trainCentralExplicit(users, items, rank, params, V0) {
  checkShape(V0, items, rank, "V0");
  const V = V0.slice();
  const U = new Float32Array(users.length * rank);
  const userBias = new Float32Array(users.length);
  const byItem = invertInteractions(users, items);
  const A = new Float64Array(rank * rank);
  const b = new Float64Array(rank);
  const scratch = new Float64Array(rank);
  const loss = [];
  const solveUsers = () => {
    let total = 0;
    users.forEach((ratings, i) => {
      const user = solveUserExplicit(V, rank, ratings, params);
      U.set(user.u, i * rank);
      userBias[i] = user.bias;
      total += explicitUserLoss(user, V, rank, ratings, params);
    });
    return total;
  };
  loss.push(solveUsers());
  for (let iteration = 0; iteration < params.iterations; iteration++) {
    for (let j = 0; j < items; j++) {
      const start = byItem.start[j];
      const end = byItem.start[j + 1];
      if (start === end) {
        V.fill(0, j * rank, (j + 1) * rank);
        continue;
      }
      A.fill(0);
      b.fill(0);
      for (let e = start; e < end; e++) {
        const user = byItem.user[e];
        const row = user * rank;
        addOuterUpper(A, U, row, rank, 1, scratch);
        const target = byItem.preference[e] - params.mean - userBias[user];
        for (let a = 0; a < rank; a++) b[a] += target * U[row + a];
      }
      mirrorUpper(A, rank);
      for (let a = 0; a < rank; a++) A[a * rank + a] += params.reg * (end - start);
      V.set(solveSymmetric(A, b, rank), j * rank);
    }
    loss.push(solveUsers());
  }
  return { V, U, userBias, loss };
}
function explicitUserLoss(user, V, rank, ratings, params) {
  let total = params.reg * user.bias * user.bias;
  for (let a = 0; a < rank - 1; a++) total += params.reg * user.u[a] * user.u[a];
  for (const { item, preference } of ratings) {
    const e = preference - predictExplicit(user, V, item, rank, params.mean);
    total += e * e;
    for (let a = 0, off = item * rank; a < rank; a++) total += params.reg * V[off + a] * V[off + a];
  }
  return total;
}
function userLoss(u, V, rank, scores, interactions, params) {
  let total = 0;
  for (let j = 0; j < scores.length; j++) total += scores[j] * scores[j];
  for (const { item, preference, confidence } of interactions) {
    const s = scores[item];
    const c = confidenceWeight(confidence, params.alpha);
    total += c * (preference - s) ** 2 - s * s;
    for (let a = 0, off = item * rank; a < rank; a++) total += params.reg * V[off + a] * V[off + a];
  }
  for (let a = 0; a < rank; a++) total += params.reg * u[a] * u[a];
  return total;
}
function totalLoss(U, V, users, items, rank, params) {
  const GU = gramian(U, users.length, rank);
  const GV = gramian(V, items, rank);
  let total = 0;
  for (let i = 0; i < GU.length; i++) total += GU[i] * GV[i];
  users.forEach((interactions, user) => {
    const off = user * rank;
    for (let a = 0; a < rank; a++) total += params.reg * U[off + a] * U[off + a];
    for (const { item, preference, confidence } of interactions) {
      let s = 0;
      let vNormSq = 0;
      for (let a = 0, row = item * rank; a < rank; a++) {
        s += U[off + a] * V[row + a];
        vNormSq += V[row + a] * V[row + a];
      }
      total += confidenceWeight(confidence, params.alpha) * (preference - s) ** 2 - s * s + params.reg * vNormSq;
    }
  });
  return total;
}
function invertInteractions(users, items) {
  const start = new Int32Array(items + 1);
  for (const interactions of users) for (const { item } of interactions) start[checkItem(item, items) + 1]++;
  for (let j = 0; j < items; j++) start[j + 1] += start[j];
  const nnz = start[items];
  const user = new Int32Array(nnz);
  const preference = new Float64Array(nnz);
  const confidence = new Float64Array(nnz);
  const next = Int32Array.from(start.subarray(0, items));
  users.forEach((interactions, u) => {
    for (const it of interactions) {
      const e = next[it.item]++;
      user[e] = u;
      preference[e] = it.preference;
      confidence[e] = it.confidence;
    }
  });
  return { start, user, preference, confidence };
}
function computeScores(u, V, items, rank, out) {
  for (let j = 0, off = 0; j < items; j++, off += rank) {
    let s = 0;
    for (let a = 0; a < rank; a++) s += u[a] * V[off + a];
    out[j] = s;
  }
}
function transformGramian(G, u, t, rank) {
  const w = new Float64Array(rank);
  let uw = 0;
  for (let a = 0; a < rank; a++) {
    let s = 0;
    for (let c = 0; c < rank; c++) s += G[a * rank + c] * u[c];
    w[a] = s;
    uw += u[a] * s;
  }
  for (let a = 0; a < rank; a++) {
    for (let c = 0; c < rank; c++) G[a * rank + c] += -t * (u[a] * w[c] + w[a] * u[c]) + t * t * uw * u[a] * u[c];
  }
}
function addOuterUpper(A, M, offset, rank, weight, row) {
  for (let a = 0; a < rank; a++) row[a] = M[offset + a];
  for (let a = 0; a < rank; a++) {
    const xa = weight * row[a];
    if (xa === 0) continue;
    const ra = a * rank;
    for (let c = a; c < rank; c++) A[ra + c] += xa * row[c];
  }
}
function mirrorUpper(A, rank) {
  for (let a = 1; a < rank; a++) for (let c = 0; c < a; c++) A[a * rank + c] = A[c * rank + a];
}
function solveSymmetric(A, b, rank) {
  const m = new Matrix(rank, rank);
  for (let a = 0; a < rank; a++) for (let c = 0; c < rank; c++) m.set(a, c, A[a * rank + c]);
  const rhs = Matrix.columnVector(b);
  const chol = new CholeskyDecomposition(m);
  const x = chol.isPositiveDefinite() ? chol.solve(rhs) : solve(m, rhs, true);
  return Float64Array.from(x.getColumn(0));
}
function checkShape(M, rows, rank, name) {
  if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`rank must be a positive integer, got ${rank}`);
  if (M.length !== rows * rank) throw new RangeError(`${name} has ${M.length} values, expected ${rows} x ${rank}`);
}
function checkItem(item, items) {
  if (!Number.isInteger(item) || item < 0 || item >= items) throw new RangeError(`interaction item ${item} is outside 0..${items - 1}`);
  return item;
}

// src/shared/model/feedback.ts
var MS_PER_DAY = 864e5;
var SECONDS_PER_HOUR = 3600;
var DAYS_PER_WEEK = 7;
var EPOCH_WEEKDAY_SHIFT = 3;
var DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
function implicitFeedback(events, options) {
  if (!(options.halfLifeDays > 0)) throw new RangeError(`halfLifeDays must be > 0, got ${options.halfLifeDays}`);
  const byItem = /* @__PURE__ */ new Map();
  for (const event of events) {
    const list = byItem.get(event.item);
    if (list) list.push(event);
    else byItem.set(event.item, [event]);
  }
  const today = Math.floor(options.now.getTime() / MS_PER_DAY);
  return [...byItem.entries()].sort(([a], [b]) => a - b).map(([item, itemEvents]) => ({
    item,
    preference: 1,
    confidence: options.mode === "stars" ? starRating(itemEvents) : implicitConfidence(itemEvents, today, options.halfLifeDays)
  }));
}
function implicitConfidence(events, today, halfLifeDays) {
  const episodes = /* @__PURE__ */ new Set();
  const weeks = /* @__PURE__ */ new Set();
  let seconds = 0;
  let newestDay = -Infinity;
  for (const event of events) {
    const day = dayNumber(event.date);
    episodes.add(event.episodeKey ?? "");
    weeks.add(weekNumber(day));
    if (event.durationSec !== null && event.durationSec > 0) seconds += event.durationSec;
    newestDay = Math.max(newestDay, day);
  }
  const ageDays = Math.max(0, today - newestDay);
  const recency = 2 ** (-ageDays / halfLifeDays);
  return recency * (Math.log1p(episodes.size) + Math.log1p(weeks.size) + Math.log1p(seconds / SECONDS_PER_HOUR));
}
function starRating(events) {
  const unitsByWeek = /* @__PURE__ */ new Map();
  for (const event of events) {
    const week = weekNumber(dayNumber(event.date));
    const units = unitsByWeek.get(week) ?? /* @__PURE__ */ new Set();
    units.add(event.episodeKey ?? `date:${event.date}`);
    unitsByWeek.set(week, units);
  }
  const views = new Map([...unitsByWeek].map(([week, units]) => [week, units.size]));
  const counts = [...views.values()];
  const total = counts.reduce((sum, n) => sum + n, 0);
  const busyWeeks = new Set([...views].filter(([, n]) => n > 1).map(([week]) => week));
  const hasThreeConsecutive = [...busyWeeks].some((week) => busyWeeks.has(week + 1) && busyWeeks.has(week + 2));
  if (counts.filter((n) => n > 3).length >= 2) return 5;
  if (hasThreeConsecutive) return 5;
  if (counts.some((n) => n > 4)) return 4;
  if (counts.length >= 2 && total > 4) return 3;
  if (total > 3) return 2;
  return 1;
}
function dayNumber(date) {
  const m = DATE_RE.exec(date);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).getUTCDate() !== Number(m[3])) {
    throw new RangeError(`watch event date ${JSON.stringify(date)} is not a valid YYYY-MM-DD date`);
  }
  return ms / MS_PER_DAY;
}
function weekNumber(day) {
  return Math.floor((day + EPOCH_WEEKDAY_SHIFT) / DAYS_PER_WEEK);
}

// src/participant/train.ts
function matchHistory(events, matcher, settings) {
  return historyFeedback(matchEvents(events, matcher), settings);
}
function historyFeedback(matched, settings) {
  const watchEvents = [];
  for (const event of matched.events) {
    const item = matched.itemOf(event.show, event.kind);
    if (item === null) continue;
    const episodeKey = event.kind === "series" ? `${event.season ?? ""}\0${event.episode ?? event.title}` : null;
    watchEvents.push({ item, date: event.date, durationSec: event.durationSec, episodeKey });
  }
  const items = matched.shows.flatMap((s) => s.item === null ? [] : [s.item]);
  return {
    interactions: implicitFeedback(watchEvents, settings),
    watched: [...new Set(items)].sort((a, b) => a - b),
    matchedShows: items.length,
    unmatchedShows: matched.shows.length - items.length
  };
}
function privatizeDelta(local, base, settings) {
  if (local.length !== base.length) throw new RangeError(`local has ${local.length} values, base ${base.length}`);
  const values = new Float32Array(local.length);
  for (let i = 0; i < values.length; i++) values[i] = local[i] - base[i];
  const rawNorm = clipL2(values, settings.clipNorm);
  if (settings.epsilon <= 0) return { values, rawNorm, noise: null };
  const sigma = deltaNoiseSigma(settings.epsilon, settings.delta, settings.clipNorm);
  addGaussianNoise(values, sigma, settings.random);
  return { values, rawNorm, noise: { mechanism: "gaussian", epsilon: settings.epsilon, delta: settings.delta, sigma } };
}

export {
  gramian,
  solveUser,
  trainLocal,
  trainCentral,
  predictExplicit,
  solveUserExplicit,
  trainLocalExplicit,
  trainCentralExplicit,
  matchHistory,
  historyFeedback,
  privatizeDelta
};
//# sourceMappingURL=chunk-EZ7ZEITT.js.map
