import { promises as fs, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { contentKey } from '../../shared/atomic';
import { matchEvents, type Catalog, type Matcher } from '../../shared/catalog';
import { communityStatsFile, displayedCommunity, readCommunityStats, type CommunityStats } from '../../shared/community';
import { PROJECT_ROOT, type Config } from '../../shared/config';
import type { Logger } from '../../shared/log';
import type { Workspace } from '../../shared/workspace';
import { blendView, describeBlendProtection, setBlendConsent, syncBlend, type BlendView } from '../blend';
import { compareWithCommunity, weekTruth } from '../community';
import { historyCacheFile, readHistoryCache } from '../state';
import { computeInsights, playsOf, type PersonalInsights } from '../insights';
import { errorSchema } from './routes';
import { assertSameOrigin } from './security';

/**
 * The insights and blend pages of one profile, as a Fastify plugin:
 * `app.register(insightsRoutes, { config, ws, catalog, matcher, profile, logger })`.
 *
 * - `GET /insights`, `GET /blend`          the pages (`ui/insights.html`, `ui/blend.html`);
 *                                           their scripts and styles come from `ui/` through the static plugin
 * - `GET /vendor/chart.umd.js`             Chart.js 4's UMD build, read from node_modules (no copy in ui/)
 * - `GET /api/insights`                    personal insights of the profile, computed from its private
 *                                           parsed-history cache (with the shows not in the catalogue, which
 *                                           the model ignores), and how last week compares with the community
 * - `GET /api/community`                   the aggregator's community statistics with titles, or why there are none
 * - `GET /api/blend`                       the blend consent and the watch-together lists
 * - `POST /api/blend` `{ friend }`         name a friend (an email) or withdraw (null); same answer as GET
 *
 * The personal figures never leave this machine (the server binds to
 * loopback); responses are serialized through their schemas. The POST must
 * come from the page's own origin (`Sec-Fetch-Site`, `Origin` vs `Host`) with a
 * JSON body of at most BLEND_BODY_BYTES: an HTML form from another site can
 * send neither.
 */
interface InsightsRouteOptions {
  config: Config;
  ws: Workspace;
  catalog: Catalog;
  matcher: Matcher;
  /** Profile folder name, `profile_<n>`. */
  profile: string;
  logger: Logger;
  now?: () => Date;
  /** Folder of the pages; defaults to the project's `ui/`. */
  uiDir?: string;
}

/** Largest POST /api/blend body: `{"friend": "<254-character email>"}` fits. */
export const BLEND_BODY_BYTES = 1024; // 1 KiB
const MAX_EMAIL_CHARS = 254;
const MINUTE_MS = 60_000;
const INSIGHTS_TTL_MS = 10_000;

/** What identifies a file's content without reading it: inode, size and mtime ('-' when absent). */
function fileIdentity(file: string): string {
  const stat = statSync(file, { throwIfNoEntry: false });
  return stat === undefined ? '-' : contentKey(stat);
}

const NO_HISTORY_MESSAGE =
  'No viewing history yet: save your Netflix export in the profile folder and start the participant (npm run -s cli -- participant); this page fills in after its first pass.';

const emptyObject = { type: 'object', properties: {}, additionalProperties: false } as const;
const errorResponses = { '4xx': errorSchema, '5xx': errorSchema } as const;
const num = { type: 'number' } as const;
const int = { type: 'integer' } as const;
const str = { type: 'string' } as const;
const nullableNum = { type: ['number', 'null'] } as const;
const nullableInt = { type: ['integer', 'null'] } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const strings = { type: 'array', items: str } as const;
const bool = { type: 'boolean' } as const;
const obj = <P extends Record<string, unknown>>(properties: P) => ({ type: 'object', required: Object.keys(properties), properties }) as const;
const nullable = <S extends object>(schema: S) => ({ anyOf: [{ type: 'null' }, schema] }) as const;
/** An estimate within its valid range (`boundedEstimate`). */
const bounded = obj({ value: num, low: num, high: num, clipped: bool });

const weekPoint = obj({ week: str, start: str, plays: int, hours: nullableNum });
const personalSchema = obj({
  totals: obj({ plays: int, hours: nullableNum, shows: int, firstDate: nullableStr, lastDate: nullableStr, hasDurations: { type: 'boolean' } }),
  weekly: { type: 'array', items: weekPoint },
  lastWeek: weekPoint,
  topShows: { type: 'array', items: obj({ title: str, kind: str, matched: { type: 'boolean' }, plays: int, hours: nullableNum, firstDate: str, lastDate: str }) },
  notInCatalogue: { type: 'array', items: obj({ title: str, kind: str, plays: int }) },
  genres: obj({ months: strings, genres: strings, plays: { type: 'array', items: { type: 'array', items: num } }, unmatchedPlays: int }),
  binges: obj({
    minEpisodesPerDay: int,
    sessions: int,
    longest: { type: 'array', items: obj({ title: str, start: str, end: str, days: int, episodes: int }) },
    perMonth: { type: 'array', items: obj({ month: str, sessions: int }) },
  }),
});
const comparisonSchema = obj({
  week: str,
  plays: int,
  band: obj({ min: int, max: nullableInt }),
  fewer: bounded,
  interval: { type: 'array', items: num, minItems: 2, maxItems: 2 },
  mean: nullable(bounded),
});
const insightsSchema = obj({
  profile: str,
  state: { type: 'string', enum: ['ready', 'no-history'] },
  message: nullableStr,
  personal: nullable(personalSchema),
  comparison: nullable(comparisonSchema),
});
const communitySchema = obj({
  state: { type: 'string', enum: ['ready', 'unavailable'] },
  message: nullableStr,
  stats: nullable(
    obj({
      week: str,
      createdAt: str,
      participants: int,
      mechanism: { type: 'string', enum: ['secure-sum', 'local-reports'] },
      epsilon: obj({ min: num, max: num }),
      delta: num,
      detectableCount: num,
      topShows: { type: 'array', items: obj({ item: int, title: str, kind: str, year: nullableInt, count: bounded }) },
      nothingWatched: bounded,
      trend: { type: 'array', items: obj({ week: str, participants: int, mean: nullable(bounded) }) },
      bands: { type: 'array', items: obj({ min: int, max: nullableInt, share: bounded, below: bounded }) },
    }),
  ),
});
const blendSchema = obj({
  me: str,
  friend: nullableStr,
  source: { type: 'string', enum: ['page', 'config', 'none'] },
  state: { type: 'string', enum: ['off', 'waiting', 'active', 'untrained'] },
  message: str,
  protection: str,
  lists: {
    type: 'array',
    items: obj({
      profile: str,
      items: {
        type: 'array',
        items: obj({ item: int, title: str, kind: str, year: nullableInt, genres: strings, mine: int, theirs: int, sharedGenres: strings, reason: str }),
      },
    }),
  },
});
const blendBodySchema = {
  type: 'object',
  required: ['friend'],
  additionalProperties: false,
  properties: { friend: { type: ['string', 'null'], minLength: 3, maxLength: MAX_EMAIL_CHARS } },
} as const;

const BLEND_MESSAGES: Record<BlendView['state'], (friend: string | null) => string> = {
  off: () => 'Name a friend to blend with. Nothing is shared until both of you have named each other.',
  waiting: (friend) => `Waiting for ${friend} to name you on their blend page (or for their taste summary to arrive). Only ${friend} can read what you share.`,
  active: (friend) => `Shows you and ${friend} would both enjoy, from your two noised taste summaries. Neither of you sees the other's history.`,
  untrained: () => 'This profile has shared no taste summary yet: it does once it is trained from a Global_V it may read, while its privacy budget allows.',
};

/** The Chart.js UMD build in node_modules (resolved once). */
function chartJsFile(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
}

function titleOf(catalog: Catalog, item: number | null, fallback: string): string {
  return item === null ? fallback : catalog.items[item].title;
}

/** PersonalInsights as the page gets it: show names replaced by catalogue titles where matched, ids dropped. */
function personalView(insights: PersonalInsights, catalog: Catalog) {
  return {
    ...insights,
    topShows: insights.topShows.map((s) => ({ title: titleOf(catalog, s.item, s.show), kind: s.kind, matched: s.item !== null, plays: s.plays, hours: s.hours, firstDate: s.firstDate, lastDate: s.lastDate })),
    notInCatalogue: insights.notInCatalogue.map((s) => ({ title: s.show, kind: s.kind, plays: s.plays })),
    binges: { ...insights.binges, longest: insights.binges.longest.map((b) => ({ title: titleOf(catalog, b.item, b.show), start: b.start, end: b.end, days: b.days, episodes: b.episodes })) },
  };
}

/** The statistics as the page gets them: every estimate within its range, shows with titles. */
function communityView(stats: CommunityStats, catalog: Catalog) {
  const shown = displayedCommunity(stats);
  return {
    ...shown,
    createdAt: stats.createdAt,
    mechanism: stats.mechanism,
    epsilon: stats.epsilon,
    delta: stats.delta,
    detectableCount: stats.detectableCount,
    topShows: shown.topShows.map((s) => {
      const item = catalog.items[s.item];
      return { item: s.item, title: item.title, kind: item.kind, year: item.year, count: s.count };
    }),
  };
}

export async function insightsRoutes(app: FastifyInstance, opts: InsightsRouteOptions): Promise<void> {
  const { config, ws, catalog, profile, logger } = opts;
  const now = opts.now ?? (() => new Date());
  const uiDir = opts.uiDir ?? path.join(PROJECT_ROOT, 'ui');
  const blendCtx = { config, ws, catalog, logger };
  const chartFile = chartJsFile();
  let chartJs: { plain: Buffer; gzip: Buffer } | null = null;

  const loadStats = async (): Promise<{ stats: CommunityStats | null; message: string | null }> => {
    if (config.AGGREGATOR_DATASITE === null) return { stats: null, message: 'AGGREGATOR_DATASITE is not set: there is no community to compare with.' };
    const stats = await readCommunityStats(ws, config.AGGREGATOR_DATASITE, catalog, logger);
    return stats === null
      ? { stats: null, message: 'No community statistics yet: they appear once enough participants have sent their weekly private reports and the aggregator has shared the results with you.' }
      : { stats, message: null };
  };

  const page = (name: string) => async (_request: unknown, reply: FastifyReply) => reply.type('text/html; charset=utf-8').send(await fs.readFile(path.join(uiDir, name)));
  app.get('/insights', { schema: { querystring: emptyObject } }, page('insights.html'));
  app.get('/blend', { schema: { querystring: emptyObject } }, page('blend.html'));

  // 200 KB of library, a third of it gzipped: read and compressed once, sent compressed to every browser that accepts it
  app.get('/vendor/chart.umd.js', { schema: { querystring: emptyObject } }, async (request, reply) => {
    if (chartJs === null) {
      const plain = await fs.readFile(chartFile);
      chartJs = { plain, gzip: gzipSync(plain) };
    }
    const chart = chartJs;
    void reply.type('application/javascript; charset=utf-8').header('cache-control', 'public, max-age=86400').header('vary', 'accept-encoding');
    return /\bgzip\b/.test(request.headers['accept-encoding'] ?? '') ? reply.header('content-encoding', 'gzip').send(chart.gzip) : reply.send(chart.plain);
  });

  const computeInsightsAnswer = async (at: Date) => {
    const events = (await readHistoryCache(ws.privateDir(profile)))?.events ?? null;
    if (events === null) return { profile, state: 'no-history', message: NO_HISTORY_MESSAGE, personal: null, comparison: null };
    const matched = matchEvents(events, opts.matcher);
    const insights = computeInsights(matched, { catalog, now: at });
    const { stats } = await loadStats();
    const comparison = stats === null ? null : compareWithCommunity(weekTruth(playsOf(matched.events), stats.week, matched.itemOf).plays, displayedCommunity(stats));
    return { profile, state: 'ready', message: null, personal: personalView(insights, catalog), comparison };
  };
  // The answer reads the whole history (a tenth of a second for a long one): it is kept while the files it
  // reads are unchanged, within the same minute, for at most INSIGHTS_TTL_MS (a permission may change).
  const historyFile = historyCacheFile(ws.privateDir(profile));
  const statsFile = config.AGGREGATOR_DATASITE === null ? null : communityStatsFile(ws, config.AGGREGATOR_DATASITE);
  let kept: { key: string; until: number; answer: ReturnType<typeof computeInsightsAnswer> } | null = null;
  app.get('/api/insights', { schema: { querystring: emptyObject, response: { 200: insightsSchema, ...errorResponses } } }, async () => {
    const at = now();
    const key = `${fileIdentity(historyFile)}|${statsFile === null ? '' : fileIdentity(statsFile)}|${Math.floor(at.getTime() / MINUTE_MS)}`;
    if (kept === null || kept.key !== key || performance.now() > kept.until) {
      const answer = computeInsightsAnswer(at);
      kept = { key, until: performance.now() + INSIGHTS_TTL_MS, answer };
      answer.catch(() => {
        if (kept?.answer === answer) kept = null; // a failure is not kept
      });
    }
    return kept.answer;
  });

  app.get('/api/community', { schema: { querystring: emptyObject, response: { 200: communitySchema, ...errorResponses } } }, async () => {
    const { stats, message } = await loadStats();
    return stats === null ? { state: 'unavailable', message, stats: null } : { state: 'ready', message: null, stats: communityView(stats, catalog) };
  });

  const blendAnswer = async () => {
    const view = await blendView(blendCtx, profile);
    return {
      me: ws.email,
      friend: view.consent.friend,
      source: view.consent.source,
      state: view.state,
      message: BLEND_MESSAGES[view.state](view.consent.friend),
      protection: describeBlendProtection(config),
      lists: view.lists.map((list) => ({
        profile: list.profile,
        items: list.items.map((t) => {
          const item = catalog.items[t.item];
          return { ...t, title: item.title, kind: item.kind, year: item.year, genres: item.genres };
        }),
      })),
    };
  };

  app.get('/api/blend', { schema: { querystring: emptyObject, response: { 200: blendSchema, ...errorResponses } } }, blendAnswer);

  app.post<{ Body: { friend: string | null } }>(
    '/api/blend',
    {
      bodyLimit: BLEND_BODY_BYTES,
      onRequest: async (request) => assertSameOrigin(request),
      schema: { querystring: emptyObject, body: blendBodySchema, response: { 200: blendSchema, ...errorResponses } },
    },
    async (request) => {
      const consent = await setBlendConsent(blendCtx, request.body.friend);
      const result = await syncBlend(blendCtx);
      logger.info({ friend: consent.friend !== null, state: result.state }, consent.friend === null ? 'blend withdrawn' : 'blend consent given');
      return blendAnswer();
    },
  );
}
