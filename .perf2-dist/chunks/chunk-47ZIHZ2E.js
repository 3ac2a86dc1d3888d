import {
  CLICK_LOG_VERSION,
  ClickLog,
  armOnSide,
  otherArm
} from "./chunk-RSHDQWJH.js";
import {
  blendView,
  compareWithCommunity,
  computeInsights,
  displayedCommunity,
  playsOf,
  readCommunityStats,
  setBlendConsent,
  syncBlend,
  weekTruth
} from "./chunk-ZSCXCAKP.js";
import {
  loadRecommendations,
  readGrantedGlobal,
  readHistoryCache,
  readProfileState
} from "./chunk-IEFLLXFA.js";
import {
  ensurePublishPermissions
} from "./chunk-NT3X3JSI.js";
import {
  cryptoRandom
} from "./chunk-OPHXPK3N.js";
import {
  createMatcher,
  matchEvents
} from "./chunk-FC2Z3HKA.js";
import {
  silentLogger
} from "./chunk-TL5FSXBU.js";
import {
  AppError,
  PROJECT_ROOT
} from "./chunk-3L2Z3EX5.js";

// src/participant/server/app.ts
import { createHash } from "node:crypto";
import { promises as fs2 } from "node:fs";
import os from "node:os";
import path2 from "node:path";
import fastifyStatic from "@fastify/static";
import Fastify, { LogController } from "fastify";

// src/participant/server/page-views.ts
var MAX_PAGE_VIEWS = 1e3;
var PageViews = class {
  views = /* @__PURE__ */ new Map();
  capacity;
  constructor(capacity = MAX_PAGE_VIEWS) {
    this.capacity = capacity;
  }
  add(view) {
    this.views.set(view.id, { ...view, clicked: /* @__PURE__ */ new Set() });
    while (this.views.size > this.capacity) {
      const oldest = this.views.keys().next().value;
      this.views.delete(oldest);
    }
  }
  get(id) {
    return this.views.get(id);
  }
  /** Mark (arm, item) clicked on this view; false when it already was. Synchronous, so concurrent requests cannot both win. */
  claim(view, arm, item) {
    const key = `${arm}/${item}`;
    if (view.clicked.has(key)) return false;
    view.clicked.add(key);
    return true;
  }
  /** Undo a claim whose row could not be written, so the user may retry. */
  release(view, arm, item) {
    view.clicked.delete(`${arm}/${item}`);
  }
};

// src/participant/server/insights-routes.ts
import { promises as fs } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

// src/participant/server/routes.ts
import { randomBytes } from "node:crypto";

// src/participant/server/security.ts
import { timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
var SECURITY_HEADERS = Object.freeze({
  "content-security-policy": "default-src 'self'; img-src 'self' https: data:; script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=()"
});
function hostName(host) {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracketed) return bracketed[1];
  const colon = host.lastIndexOf(":");
  return (colon >= 0 && host.indexOf(":") === colon ? host.slice(0, colon) : host).toLowerCase();
}
function isLoopbackHost(host) {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return name === "localhost" || name === "::1" || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}
function isAllowedHost(host, webHost) {
  if (!host) return false;
  const name = hostName(host);
  return name === "localhost" || isIP(name) !== 0 || name === webHost.toLowerCase();
}
function assertSameOrigin(request) {
  const site = request.headers["sec-fetch-site"];
  if (site !== void 0 && site !== "same-origin") {
    throw new AppError("ERR_CROSS_ORIGIN", `request refused: Sec-Fetch-Site is ${JSON.stringify(site)}, not same-origin`);
  }
  const origin = request.headers.origin;
  if (origin === void 0) return;
  const page = urlOrigin(`${PAGE_SCHEME}//${request.headers.host ?? ""}`);
  if (page === null || urlOrigin(origin) !== page) {
    throw new AppError("ERR_CROSS_ORIGIN", `request refused: Origin ${JSON.stringify(origin)} is not this page (${PAGE_SCHEME}//${request.headers.host ?? "no Host"})`);
  }
}
var PAGE_SCHEME = "http:";
function urlOrigin(url) {
  try {
    const origin = new URL(url).origin;
    return origin === "null" ? null : origin;
  } catch {
    return null;
  }
}
function tokensEqual(presented, issued) {
  const a = Buffer.from(presented);
  const b = Buffer.from(issued);
  return a.length === b.length && timingSafeEqual(a, b);
}
function guardRequest(webHost) {
  return async (request, reply) => {
    reply.headers(SECURITY_HEADERS);
    if (!isAllowedHost(request.headers.host, webHost)) {
      throw new AppError("ERR_CROSS_ORIGIN", `request refused: Host ${JSON.stringify(request.headers.host ?? "")} is not this machine; open the page at http://127.0.0.1`);
    }
  };
}

// src/participant/server/routes.ts
function protectionStatement(config) {
  const noise = config.DP_EPSILON > 0 ? ` Each round's sum also carries differential-privacy noise: (\u03B5 = ${config.DP_EPSILON}, \u03B4 = ${config.DP_DELTA}) per round for your whole datasite.` : " No differential-privacy noise is added (DP_EPSILON=0), so the change between two Global_V versions, which every contributor can compute, reveals the shows the round's members watched, taken together.";
  if (config.SECURE_AGGREGATION === "on") {
    return `Your viewing history stays on this computer. Your model update leaves it only masked: with secure aggregation the aggregator learns the sum over at least ${config.MIN_DATASITES} datasites, never your update.${noise}`;
  }
  return config.DP_EPSILON > 0 ? `Your viewing history stays on this computer. Secure aggregation is off: the aggregator sees your model update, which carries differential-privacy noise, (\u03B5 = ${config.DP_EPSILON}, \u03B4 = ${config.DP_DELTA}) per update.` : "Your viewing history stays on this computer, but secure aggregation and noise are off: the aggregator can see your model update, and from it which shows you watched.";
}
var FRESH_MS = 1e3;
function freshFor(now, compute) {
  let cached = null;
  return () => {
    const at = now().getTime();
    if (cached === null || at - cached.at >= FRESH_MS || at < cached.at) {
      const entry = { at, value: compute() };
      cached = entry;
      entry.value.catch(() => {
        if (cached === entry) cached = null;
      });
    }
    return cached.value;
  };
}
var WAITING_MESSAGE = "Waiting for the aggregator to share the global model \u2014 your local recommendations are below.";
var UNTRAINED_MESSAGE = "No recommendations yet: your viewing history has not been trained on. Save your Netflix export in the profile folder and start the participant (npm run -s cli -- participant); this page fills in after its first training.";
var PAGE_VIEW_ID_BYTES = 12;
var TOKEN_BYTES = 24;
var ID_PATTERN = "^[A-Za-z0-9_-]{8,64}$";
var emptyObject = { type: "object", properties: {}, additionalProperties: false };
var nullableInt = { type: ["integer", "null"] };
var errorSchema = {
  type: "object",
  required: ["statusCode", "code", "message"],
  properties: { statusCode: { type: "integer" }, code: { type: "string" }, message: { type: "string" } }
};
var errorResponses = { "4xx": errorSchema, "5xx": errorSchema };
var showSchema = {
  type: "object",
  required: ["id", "showId", "title", "kind", "year", "genres", "description", "image", "rank", "inBoth"],
  properties: {
    id: { type: "integer" },
    showId: { type: "string" },
    title: { type: "string" },
    kind: { type: "string" },
    year: nullableInt,
    genres: { type: "array", items: { type: "string" } },
    description: { type: "string" },
    image: { type: ["string", "null"] },
    rank: { type: "integer" },
    inBoth: { type: "boolean" }
  }
};
var pageSchema = {
  type: "object",
  required: ["state", "message", "pageView", "token", "versions", "columns"],
  properties: {
    state: { type: "string", enum: ["experiment", "waiting", "untrained"] },
    message: { type: ["string", "null"] },
    pageView: { type: ["string", "null"] },
    token: { type: ["string", "null"] },
    versions: { type: "object", required: ["global", "localBase"], properties: { global: nullableInt, localBase: nullableInt } },
    columns: {
      type: "array",
      items: {
        type: "object",
        required: ["side", "arm", "shows"],
        properties: { side: { type: "string", enum: ["left", "right"] }, arm: { type: "string", enum: ["local", "global"] }, shows: { type: "array", items: showSchema } }
      }
    }
  }
};
var statusSchema = {
  type: "object",
  required: ["profile", "access", "trainedAt", "versions", "recsPerColumn", "protection"],
  properties: {
    profile: { type: "string" },
    protection: { type: "string" },
    access: { type: "string", enum: ["granted", "waiting", "untrained"] },
    trainedAt: { type: ["string", "null"] },
    versions: { type: "object", required: ["global", "localBase"], properties: { global: nullableInt, localBase: nullableInt } },
    recsPerColumn: { type: "integer" }
  }
};
var clickBodySchema = {
  type: "object",
  required: ["pageView", "token", "side", "item"],
  additionalProperties: false,
  properties: {
    pageView: { type: "string", pattern: ID_PATTERN },
    token: { type: "string", pattern: ID_PATTERN },
    side: { type: "string", enum: ["left", "right"] },
    item: { type: "integer", minimum: 0, maximum: 1e7 }
  }
};
function newId(bytes) {
  return randomBytes(bytes).toString("base64url");
}
function pageShows(catalog, ids, other) {
  return ids.map((id, i) => {
    const item = catalog.items[id];
    return {
      id,
      showId: item.showId,
      title: item.title,
      kind: item.kind,
      year: item.year,
      genres: item.genres,
      description: item.description,
      image: item.image,
      rank: i + 1,
      inBoth: other.has(id)
    };
  });
}
async function createPageView(ctx, recommendations) {
  const recs = await recommendations();
  if (recs === null) {
    return { state: "untrained", message: UNTRAINED_MESSAGE, pageView: null, token: null, versions: { global: null, localBase: null }, columns: [] };
  }
  const lists = { local: recs.local.map((s) => s.id), global: recs.global.map((s) => s.id) };
  if (recs.globalVersion === null) {
    const versions2 = { global: null, localBase: recs.localBaseVersion };
    return { state: "waiting", message: WAITING_MESSAGE, pageView: null, token: null, versions: versions2, columns: [{ side: "left", arm: "local", shows: pageShows(ctx.catalog, lists.local, /* @__PURE__ */ new Set()) }] };
  }
  const versions = { global: recs.globalVersion, localBase: recs.localBaseVersion };
  const left = ctx.random.next() < 0.5 ? "local" : "global";
  const right = otherArm(left);
  const pageView = newId(PAGE_VIEW_ID_BYTES);
  const token = newId(TOKEN_BYTES);
  await ctx.clickLog.append({ v: CLICK_LOG_VERSION, type: "view", pageView, left, shown: { local: lists.local.length, global: lists.global.length }, versions });
  ctx.pageViews.add({ id: pageView, token, left, lists });
  const shows = (arm) => pageShows(ctx.catalog, lists[arm], new Set(lists[otherArm(arm)]));
  return {
    state: "experiment",
    message: null,
    pageView,
    token,
    versions,
    columns: [
      { side: "left", arm: left, shows: shows(left) },
      { side: "right", arm: right, shows: shows(right) }
    ]
  };
}
function registerRoutes(app, ctx) {
  const recommendations = freshFor(ctx.now, () => loadRecommendations(ctx, ctx.profile, ctx.config.RECS_PER_COLUMN));
  const status = freshFor(ctx.now, async () => {
    const state = await readProfileState(ctx.ws.privateDir(ctx.profile));
    const global = state ? await readGrantedGlobal(ctx.ws, ctx.config.AGGREGATOR_DATASITE, { items: state.items, rank: state.rank, vocabHash: state.vocabHash }, ctx.logger) : null;
    return {
      profile: ctx.profile,
      access: state === null ? "untrained" : global ? "granted" : "waiting",
      trainedAt: state?.trainedAt ?? null,
      versions: { global: global?.manifest.version ?? null, localBase: state?.baseVersion ?? null },
      recsPerColumn: ctx.config.RECS_PER_COLUMN,
      protection: protectionStatement(ctx.config)
    };
  });
  app.get("/api/health", { schema: { querystring: emptyObject, response: { 200: { type: "object", required: ["status"], properties: { status: { type: "string" } } }, ...errorResponses } } }, async () => ({
    status: "ok"
  }));
  app.get("/api/status", { schema: { querystring: emptyObject, response: { 200: statusSchema, ...errorResponses } } }, status);
  app.post(
    "/api/views",
    { onRequest: async (request) => assertSameOrigin(request), schema: { querystring: emptyObject, body: emptyObject, response: { 200: pageSchema, ...errorResponses } } },
    async () => createPageView(ctx, recommendations)
  );
  app.post(
    "/api/click",
    {
      onRequest: async (request) => assertSameOrigin(request),
      schema: {
        querystring: emptyObject,
        body: clickBodySchema,
        response: { 200: { type: "object", required: ["status"], properties: { status: { type: "string", enum: ["recorded", "duplicate"] } } }, ...errorResponses }
      }
    },
    async (request) => {
      const { pageView, token, side, item } = request.body;
      const view = ctx.pageViews.get(pageView);
      if (!view) throw new AppError("ERR_PAGE_VIEW_EXPIRED", "this page is out of date (the server restarted or it is too old): reload it");
      if (!tokensEqual(token, view.token)) throw new AppError("ERR_CROSS_ORIGIN", "request refused: the page token does not match this page view");
      const arm = armOnSide(view.left, side);
      const rank = view.lists[arm].indexOf(item) + 1;
      if (rank === 0) throw new AppError("ERR_BAD_REQUEST", `show ${item} was not in the ${side} column of this page`);
      if (!ctx.pageViews.claim(view, arm, item)) return { status: "duplicate" };
      try {
        await ctx.clickLog.append({ v: CLICK_LOG_VERSION, type: "click", pageView, side, arm, rank });
      } catch (err) {
        ctx.pageViews.release(view, arm, item);
        throw err;
      }
      ctx.logger.debug({ side, arm, rank }, "recorded a click");
      return { status: "recorded" };
    }
  );
}

// src/participant/server/insights-routes.ts
var BLEND_BODY_BYTES = 1024;
var MAX_EMAIL_CHARS = 254;
var NO_HISTORY_MESSAGE = "No viewing history yet: save your Netflix export in the profile folder and start the participant (npm run -s cli -- participant); this page fills in after its first pass.";
var emptyObject2 = { type: "object", properties: {}, additionalProperties: false };
var errorResponses2 = { "4xx": errorSchema, "5xx": errorSchema };
var num = { type: "number" };
var int = { type: "integer" };
var str = { type: "string" };
var nullableNum = { type: ["number", "null"] };
var nullableInt2 = { type: ["integer", "null"] };
var nullableStr = { type: ["string", "null"] };
var strings = { type: "array", items: str };
var bool = { type: "boolean" };
var obj = (properties) => ({ type: "object", required: Object.keys(properties), properties });
var nullable = (schema) => ({ anyOf: [{ type: "null" }, schema] });
var bounded = obj({ value: num, low: num, high: num, clipped: bool });
var weekPoint = obj({ week: str, start: str, plays: int, hours: nullableNum });
var personalSchema = obj({
  totals: obj({ plays: int, hours: nullableNum, shows: int, firstDate: nullableStr, lastDate: nullableStr, hasDurations: { type: "boolean" } }),
  weekly: { type: "array", items: weekPoint },
  lastWeek: weekPoint,
  topShows: { type: "array", items: obj({ title: str, kind: str, matched: { type: "boolean" }, plays: int, hours: nullableNum, firstDate: str, lastDate: str }) },
  notInCatalogue: { type: "array", items: obj({ title: str, kind: str, plays: int }) },
  genres: obj({ months: strings, genres: strings, plays: { type: "array", items: { type: "array", items: num } }, unmatchedPlays: int }),
  binges: obj({
    minEpisodesPerDay: int,
    sessions: int,
    longest: { type: "array", items: obj({ title: str, start: str, end: str, days: int, episodes: int }) },
    perMonth: { type: "array", items: obj({ month: str, sessions: int }) }
  })
});
var comparisonSchema = obj({
  week: str,
  plays: int,
  band: obj({ min: int, max: nullableInt2 }),
  fewer: bounded,
  interval: { type: "array", items: num, minItems: 2, maxItems: 2 },
  mean: nullable(bounded)
});
var insightsSchema = obj({
  profile: str,
  state: { type: "string", enum: ["ready", "no-history"] },
  message: nullableStr,
  personal: nullable(personalSchema),
  comparison: nullable(comparisonSchema)
});
var communitySchema = obj({
  state: { type: "string", enum: ["ready", "unavailable"] },
  message: nullableStr,
  stats: nullable(
    obj({
      week: str,
      createdAt: str,
      participants: int,
      epsilon: obj({ min: num, max: num }),
      detectableCount: num,
      topShows: { type: "array", items: obj({ item: int, title: str, kind: str, year: nullableInt2, count: bounded }) },
      nothingWatched: bounded,
      trend: { type: "array", items: obj({ week: str, participants: int, mean: nullable(bounded) }) },
      bands: { type: "array", items: obj({ min: int, max: nullableInt2, share: bounded, below: bounded }) }
    })
  )
});
var blendSchema = obj({
  me: str,
  friend: nullableStr,
  source: { type: "string", enum: ["page", "config", "none"] },
  state: { type: "string", enum: ["off", "waiting", "active", "untrained"] },
  message: str,
  lists: {
    type: "array",
    items: obj({
      profile: str,
      items: {
        type: "array",
        items: obj({ item: int, title: str, kind: str, year: nullableInt2, genres: strings, mine: int, theirs: int, sharedGenres: strings, reason: str })
      }
    })
  }
});
var blendBodySchema = {
  type: "object",
  required: ["friend"],
  additionalProperties: false,
  properties: { friend: { type: ["string", "null"], minLength: 3, maxLength: MAX_EMAIL_CHARS } }
};
var BLEND_MESSAGES = {
  off: () => "Name a friend to blend with. Nothing is shared until both of you have named each other.",
  waiting: (friend) => `Waiting for ${friend} to name you on their blend page (or for their scores to arrive). Only ${friend} can read what you share.`,
  active: (friend) => `Shows you and ${friend} would both enjoy, from your private models. Neither of you sees the other's history.`,
  untrained: () => "This profile has no model yet: the watch-together list appears after the participant has trained it."
};
function chartJsFile() {
  const require2 = createRequire(import.meta.url);
  return path.join(path.dirname(require2.resolve("chart.js")), "chart.umd.min.js");
}
function titleOf(catalog, item, fallback) {
  return item === null ? fallback : catalog.items[item].title;
}
function personalView(insights, catalog) {
  return {
    ...insights,
    topShows: insights.topShows.map((s) => ({ title: titleOf(catalog, s.item, s.show), kind: s.kind, matched: s.item !== null, plays: s.plays, hours: s.hours, firstDate: s.firstDate, lastDate: s.lastDate })),
    notInCatalogue: insights.notInCatalogue.map((s) => ({ title: s.show, kind: s.kind, plays: s.plays })),
    binges: { ...insights.binges, longest: insights.binges.longest.map((b) => ({ title: titleOf(catalog, b.item, b.show), start: b.start, end: b.end, days: b.days, episodes: b.episodes })) }
  };
}
function communityView(stats, catalog) {
  const shown = displayedCommunity(stats);
  return {
    ...shown,
    createdAt: stats.createdAt,
    epsilon: stats.epsilon,
    detectableCount: stats.detectableCount,
    topShows: shown.topShows.map((s) => {
      const item = catalog.items[s.item];
      return { item: s.item, title: item.title, kind: item.kind, year: item.year, count: s.count };
    })
  };
}
async function insightsRoutes(app, opts) {
  const { config, ws, catalog, profile, logger } = opts;
  const now = opts.now ?? (() => /* @__PURE__ */ new Date());
  const uiDir = opts.uiDir ?? path.join(PROJECT_ROOT, "ui");
  const blendCtx = { config, ws, catalog, logger };
  const chartFile = chartJsFile();
  let chartJs = null;
  const loadStats = async () => {
    if (config.AGGREGATOR_DATASITE === null) return { stats: null, message: "AGGREGATOR_DATASITE is not set: there is no community to compare with." };
    const stats = await readCommunityStats(ws, config.AGGREGATOR_DATASITE, catalog, logger);
    return stats === null ? { stats: null, message: "No community statistics yet: they appear once enough participants have sent their weekly private reports and the aggregator has shared the results with you." } : { stats, message: null };
  };
  const page = (name) => async (_request, reply) => reply.type("text/html; charset=utf-8").send(await fs.readFile(path.join(uiDir, name)));
  app.get("/insights", { schema: { querystring: emptyObject2 } }, page("insights.html"));
  app.get("/blend", { schema: { querystring: emptyObject2 } }, page("blend.html"));
  app.get("/vendor/chart.umd.js", { schema: { querystring: emptyObject2 } }, async (_request, reply) => {
    chartJs ??= await fs.readFile(chartFile);
    return reply.type("application/javascript; charset=utf-8").header("cache-control", "public, max-age=86400").send(chartJs);
  });
  app.get("/api/insights", { schema: { querystring: emptyObject2, response: { 200: insightsSchema, ...errorResponses2 } } }, async () => {
    const events = (await readHistoryCache(ws.privateDir(profile)))?.events ?? null;
    if (events === null) return { profile, state: "no-history", message: NO_HISTORY_MESSAGE, personal: null, comparison: null };
    const matched = matchEvents(events, opts.matcher);
    const insights = computeInsights(matched, { catalog, now: now() });
    const { stats } = await loadStats();
    const comparison = stats === null ? null : compareWithCommunity(weekTruth(playsOf(matched.events), stats.week, matched.itemOf).plays, displayedCommunity(stats));
    return { profile, state: "ready", message: null, personal: personalView(insights, catalog), comparison };
  });
  app.get("/api/community", { schema: { querystring: emptyObject2, response: { 200: communitySchema, ...errorResponses2 } } }, async () => {
    const { stats, message } = await loadStats();
    return stats === null ? { state: "unavailable", message, stats: null } : { state: "ready", message: null, stats: communityView(stats, catalog) };
  });
  const blendAnswer = async () => {
    const view = await blendView(blendCtx, profile);
    return {
      me: ws.email,
      friend: view.consent.friend,
      source: view.consent.source,
      state: view.state,
      message: BLEND_MESSAGES[view.state](view.consent.friend),
      lists: view.lists.map((list) => ({
        profile: list.profile,
        items: list.items.map((t) => {
          const item = catalog.items[t.item];
          return { ...t, title: item.title, kind: item.kind, year: item.year, genres: item.genres };
        })
      }))
    };
  };
  app.get("/api/blend", { schema: { querystring: emptyObject2, response: { 200: blendSchema, ...errorResponses2 } } }, blendAnswer);
  app.post(
    "/api/blend",
    {
      bodyLimit: BLEND_BODY_BYTES,
      onRequest: async (request) => assertSameOrigin(request),
      schema: { querystring: emptyObject2, body: blendBodySchema, response: { 200: blendSchema, ...errorResponses2 } }
    },
    async (request) => {
      const consent = await setBlendConsent(blendCtx, request.body.friend);
      const result = await syncBlend(blendCtx);
      logger.info({ friend: consent.friend !== null, state: result.state }, consent.friend === null ? "blend withdrawn" : "blend consent given");
      return blendAnswer();
    }
  );
}

// src/participant/server/app.ts
var MAX_BODY_BYTES = 4 * 1024;
var STATUS_OF = {
  ERR_BAD_REQUEST: 400,
  ERR_CROSS_ORIGIN: 403,
  ERR_NOT_FOUND: 404,
  ERR_PAGE_VIEW_EXPIRED: 409
};
var MAX_ECHOED_URL_CHARS = 200;
var WILDCARD_HOSTS = /* @__PURE__ */ new Set(["0.0.0.0", "::"]);
function errorBody(err) {
  if (err instanceof AppError) {
    return { statusCode: STATUS_OF[err.code] ?? 500, code: err.code, message: err.message };
  }
  const statusCode = err.statusCode;
  if (err.validation) return { statusCode: 400, code: "ERR_BAD_REQUEST", message: `invalid request: ${err.message}` };
  if (statusCode !== void 0 && statusCode >= 400 && statusCode < 500) return { statusCode, code: "ERR_BAD_REQUEST", message: err.message };
  return { statusCode: 500, code: "ERR_INTERNAL", message: "unexpected error in the page server; the app log has the details" };
}
function buildApp(options) {
  const { config, workspace: ws, catalog, profile } = options;
  const logger = options.logger ?? silentLogger;
  const clickLog = new ClickLog(options.clickLog ?? ws.clickLog(profile), {
    logger,
    // The click log's folder must let only the aggregator read it, even before the first training.
    prepare: async () => {
      if (config.AGGREGATOR_DATASITE !== null) await ensurePublishPermissions(ws, config.AGGREGATOR_DATASITE);
    }
  });
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // A URL that does not decode (`/%zz`) is refused before routing and hooks: answer it like every other error.
    frameworkErrors: (err, _request, reply) => {
      const body = errorBody(err);
      void reply.headers(SECURITY_HEADERS).code(body.statusCode).type("application/json").send(body);
    }
  });
  app.addHook("onRequest", guardRequest(config.WEB_HOST));
  app.addHook("onSend", async (request, reply) => {
    if (request.url.startsWith("/api/")) reply.header("cache-control", "no-store");
  });
  app.setErrorHandler((err, request, reply) => {
    const body = errorBody(err);
    if (body.statusCode >= 500) logger.error({ err, method: request.method, url: request.url }, "page server failure");
    else logger.debug({ code: body.code, method: request.method, url: request.url }, body.message);
    void reply.code(body.statusCode).type("application/json").send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body = { statusCode: 404, code: "ERR_NOT_FOUND", message: `no route ${request.method} ${request.url.slice(0, MAX_ECHOED_URL_CHARS)}` };
    void reply.code(404).type("application/json").send(body);
  });
  app.addHook("onClose", async () => clickLog.flushed());
  const uiDir = options.uiDir ?? path2.join(PROJECT_ROOT, "ui");
  void app.register(fastifyStatic, { root: uiDir, prefix: "/", wildcard: false, list: false, index: false, dotfiles: "deny" });
  const index = fileInMemory(path2.join(uiDir, "index.html"));
  app.get("/", async (request, reply) => {
    const page = await index();
    if (request.headers["if-none-match"] === page.etag) return reply.code(304).send();
    return reply.type("text/html; charset=utf-8").header("etag", page.etag).header("cache-control", "no-cache").send(page.body);
  });
  registerRoutes(app, {
    config,
    ws,
    catalog,
    profile,
    logger,
    now: options.now ?? (() => /* @__PURE__ */ new Date()),
    random: options.random ?? cryptoRandom(),
    clickLog,
    pageViews: new PageViews()
  });
  void app.register(insightsRoutes, {
    config,
    ws,
    catalog,
    matcher: options.matcher ?? createMatcher(catalog),
    profile,
    logger,
    now: options.now,
    uiDir: options.uiDir
  });
  return app;
}
function fileInMemory(file) {
  let cached = null;
  return async () => {
    const stat = await fs2.stat(file);
    const key = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    if (cached?.key !== key) {
      const body = await fs2.readFile(file);
      cached = { key, body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` };
    }
    return cached;
  };
}
async function startServer(app, { host, port, allowRemote = false, logger = silentLogger }) {
  const remote = !isLoopbackHost(host);
  if (remote && !allowRemote) {
    throw new AppError("ERR_CONFIG_INVALID", `WEB_HOST=${host} would let other machines on the network read your page (recommendations, viewing insights, blend; it has no login): set WEB_HOST=127.0.0.1, or WEB_ALLOW_REMOTE=true if you mean it`);
  }
  try {
    await app.listen({ host, port });
  } catch (err) {
    if (err.code === "EADDRINUSE") {
      throw new AppError("ERR_PORT_IN_USE", `port ${port} is in use: set WEB_PORT or stop the other process`);
    }
    throw err;
  }
  const address = app.server.address();
  const actualPort = typeof address === "object" && address !== null ? address.port : port;
  const urls = (WILDCARD_HOSTS.has(host) ? networkAddresses(host) : [host]).map((h) => `http://${h.includes(":") ? `[${h}]` : h}:${actualPort}`);
  if (remote) {
    logger.warn({ host, urls }, `THE PAGE IS REACHABLE FROM OTHER MACHINES at ${urls.join(", ")} (WEB_HOST=${host}, WEB_ALLOW_REMOTE=true): anyone who can reach them sees your recommendations, viewing insights and blend; set WEB_HOST=127.0.0.1 to keep it on this machine`);
  }
  return urls[0];
}
function networkAddresses(wildcard) {
  const found = Object.values(os.networkInterfaces()).flatMap((list) => list ?? []).filter((a) => !a.internal && (wildcard === "::" || a.family === "IPv4")).sort((a, b) => a.family === b.family ? 0 : a.family === "IPv4" ? -1 : 1).map((a) => a.address);
  return found.length > 0 ? found : [wildcard];
}

export {
  buildApp,
  startServer
};
//# sourceMappingURL=chunk-47ZIHZ2E.js.map
