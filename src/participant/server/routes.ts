import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Catalog } from '../../shared/catalog';
import type { Config } from '../../shared/config';
import { AppError } from '../../shared/errors';
import type { Logger } from '../../shared/log';
import type { Random } from '../../shared/random';
import type { Workspace } from '../../shared/workspace';
import { armOnSide, CLICK_LOG_VERSION, otherArm, type Arm, type Side } from '../../shared/clicks';
import type { ClickLog } from '../clicks';
import { loadRecommendations, readGrantedGlobal } from '../recommendations';
import { readPrivacyLedger, readProfileState } from '../state';
import { budgetStatement, describeReleases, runsPerPeriod, type ReleaseSettings } from '../protection';
import { configuredBudget, privacySpent } from '../../shared/privacy';
import type { PageViews } from './page-views';
import { assertSameOrigin, tokensEqual } from './security';

/**
 * The page's JSON API:
 * - `GET  /api/health`  liveness: `{ status: "ok" }`
 * - `GET  /api/status`  model versions, last training time, access state
 * - `POST /api/views`   body `{}`: a new page view (both lists, which arm is
 *                       on which side, the page token); logged as a view row
 * - `POST /api/click`   body `{ pageView, token, side, item }`: one click,
 *                       logged once per (page view, list, show)
 * Responses are serialized through their schemas, so nothing beyond the listed
 * fields (watched shows, scores, factors) can leave the server.
 */

/**
 * What protects this datasite's contribution under the active settings, in one
 * sentence for the page: never more than the mechanism gives (README, "What is
 * protected with the default settings").
 */
export function protectionStatement(config: Pick<Config, 'SECURE_AGGREGATION' | 'DP_EPSILON' | 'DP_DELTA' | 'MIN_DATASITES' | 'PRIVACY_PERIOD_DAYS'> & ReleaseSettings): string {
  return [updateStatement(config), ...describeReleases(config)].join(' ');
}

/** The model update's part of `protectionStatement`. */
function updateStatement(config: Pick<Config, 'SECURE_AGGREGATION' | 'DP_EPSILON' | 'DP_DELTA' | 'MIN_DATASITES' | 'PRIVACY_PERIOD_DAYS'>): string {
  const noise =
    config.DP_EPSILON > 0
      ? ` The model is trained in differentially private runs of two rounds, ${runsPerPeriod(config.PRIVACY_PERIOD_DAYS)}, and their sums carry noise: (ε = ${config.DP_EPSILON}, δ = ${config.DP_DELTA}) per run for your whole datasite, towards everyone who reads Global_V and towards the aggregator (unless other members give it their own noise). It protects which shows you watched, not that you took part.`
      : ' No differential-privacy noise is added (DP_EPSILON=0), so the aggregator can see the sum without noise, and the change between two Global_V versions, which every contributor can compute, reveals the shows the round\'s members watched, taken together.';
  if (config.SECURE_AGGREGATION === 'on') {
    return `Your viewing history stays on this computer. Your model update leaves it only masked: with secure aggregation the aggregator learns the sum over at least ${config.MIN_DATASITES} datasites, never your update.${noise}`;
  }
  return config.DP_EPSILON > 0
    ? `Your viewing history stays on this computer. Secure aggregation is off: the aggregator sees your model update, which carries differential-privacy noise, (ε = ${config.DP_EPSILON}, δ = ${config.DP_DELTA}) per update.`
    : 'Your viewing history stays on this computer, but secure aggregation and noise are off: the aggregator can see your model update, and from it which shows you watched.';
}

interface RouteContext {
  config: Config;
  ws: Workspace;
  catalog: Catalog;
  profile: string;
  logger: Logger;
  now: () => Date;
  /** Decides which arm goes on the left, per page view. */
  random: Random;
  clickLog: ClickLog;
  pageViews: PageViews;
}

/**
 * Both lists (and the status) change only when the participant retrains or a
 * Global_V arrives (minutes apart), but computing them reads the model files (and
 * ranks every item): one computation serves every request. Once it is FRESH_MS
 * old, the next request starts a new one in the background and is still answered
 * from the last (so no request waits for a recomputation but the very first:
 * concurrent requests waiting for one would all miss the latency target). A
 * failure is not remembered: the last good value stays, and the next request
 * tries again.
 */
const FRESH_MS = 1000;

function freshFor<T>(now: () => Date, compute: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | null = null;
  let refreshing = false;
  const start = (at: number) => {
    const entry = { at, value: compute() };
    refreshing = true;
    entry.value.then(
      () => {
        last = entry;
      },
      () => {
        if (last === entry) last = null;
      },
    ).finally(() => {
      refreshing = false;
    });
    return entry;
  };
  return () => {
    const at = now().getTime();
    if (last === null) {
      last = start(at);
      return last.value;
    }
    if ((at - last.at >= FRESH_MS || at < last.at) && !refreshing) start(at);
    return last.value;
  };
}

type PageState = 'experiment' | 'waiting' | 'untrained';

const WAITING_MESSAGE = 'Waiting for the aggregator to share the global model — your local recommendations are below.';
const UNTRAINED_MESSAGE =
  'No recommendations yet: your viewing history has not been trained on. Save your Netflix export in the profile folder and start the participant (npm run -s cli -- participant); this page fills in after its first training.';

const PAGE_VIEW_ID_BYTES = 12; // 16 base64url characters
const TOKEN_BYTES = 24; // 32 base64url characters
const ID_PATTERN = '^[A-Za-z0-9_-]{8,64}$';

const emptyObject = { type: 'object', properties: {}, additionalProperties: false } as const;
const nullableInt = { type: ['integer', 'null'] } as const;
export const errorSchema = {
  type: 'object',
  required: ['statusCode', 'code', 'message'],
  properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' } },
} as const;
const errorResponses = { '4xx': errorSchema, '5xx': errorSchema } as const;

const showSchema = {
  type: 'object',
  required: ['id', 'showId', 'title', 'kind', 'year', 'genres', 'description', 'image', 'rank', 'inBoth'],
  properties: {
    id: { type: 'integer' },
    showId: { type: 'string' },
    title: { type: 'string' },
    kind: { type: 'string' },
    year: nullableInt,
    genres: { type: 'array', items: { type: 'string' } },
    description: { type: 'string' },
    image: { type: ['string', 'null'] },
    rank: { type: 'integer' },
    inBoth: { type: 'boolean' },
  },
} as const;

const pageSchema = {
  type: 'object',
  required: ['state', 'message', 'pageView', 'token', 'versions', 'columns'],
  properties: {
    state: { type: 'string', enum: ['experiment', 'waiting', 'untrained'] },
    message: { type: ['string', 'null'] },
    pageView: { type: ['string', 'null'] },
    token: { type: ['string', 'null'] },
    versions: { type: 'object', required: ['global', 'localBase'], properties: { global: nullableInt, localBase: nullableInt } },
    columns: {
      type: 'array',
      items: {
        type: 'object',
        required: ['side', 'arm', 'shows'],
        properties: { side: { type: 'string', enum: ['left', 'right'] }, arm: { type: 'string', enum: ['local', 'global'] }, shows: { type: 'array', items: showSchema } },
      },
    },
  },
} as const;

const statusSchema = {
  type: 'object',
  required: ['profile', 'access', 'trainedAt', 'versions', 'recsPerColumn', 'protection', 'budget'],
  properties: {
    profile: { type: 'string' },
    protection: { type: 'string' },
    budget: { type: 'string' },
    access: { type: 'string', enum: ['granted', 'waiting', 'untrained'] },
    trainedAt: { type: ['string', 'null'] },
    versions: { type: 'object', required: ['global', 'localBase'], properties: { global: nullableInt, localBase: nullableInt } },
    recsPerColumn: { type: 'integer' },
  },
} as const;

const clickBodySchema = {
  type: 'object',
  required: ['pageView', 'token', 'side', 'item'],
  additionalProperties: false,
  properties: {
    pageView: { type: 'string', pattern: ID_PATTERN },
    token: { type: 'string', pattern: ID_PATTERN },
    side: { type: 'string', enum: ['left', 'right'] },
    item: { type: 'integer', minimum: 0, maximum: 10_000_000 },
  },
} as const;

interface ClickBody {
  pageView: string;
  token: string;
  side: Side;
  item: number;
}

interface PageShow {
  id: number;
  showId: string;
  title: string;
  kind: string;
  year: number | null;
  genres: string[];
  description: string;
  image: string | null;
  rank: number;
  inBoth: boolean;
}

export interface PageData {
  state: PageState;
  message: string | null;
  pageView: string | null;
  token: string | null;
  versions: { global: number | null; localBase: number | null };
  columns: { side: Side; arm: Arm; shows: PageShow[] }[];
}

function newId(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** The catalogue facts a card shows for each id in `ids` (rank is 1-based). */
function pageShows(catalog: Catalog, ids: readonly number[], other: ReadonlySet<number>): PageShow[] {
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
      inBoth: other.has(id),
    };
  });
}

/** Create, log and describe one page view (or the waiting / untrained states, which are not logged). */
async function createPageView(ctx: RouteContext, recommendations: () => ReturnType<typeof loadRecommendations>): Promise<PageData> {
  const recs = await recommendations();
  if (recs === null) {
    return { state: 'untrained', message: UNTRAINED_MESSAGE, pageView: null, token: null, versions: { global: null, localBase: null }, columns: [] };
  }
  const lists: Record<Arm, number[]> = { local: recs.local.map((s) => s.id), global: recs.global.map((s) => s.id) };
  if (recs.globalVersion === null) {
    const versions = { global: null, localBase: recs.localBaseVersion };
    return { state: 'waiting', message: WAITING_MESSAGE, pageView: null, token: null, versions, columns: [{ side: 'left', arm: 'local', shows: pageShows(ctx.catalog, lists.local, new Set()) }] };
  }
  const versions = { global: recs.globalVersion, localBase: recs.localBaseVersion };
  const left: Arm = ctx.random.next() < 0.5 ? 'local' : 'global';
  const right = otherArm(left);
  const pageView = newId(PAGE_VIEW_ID_BYTES);
  const token = newId(TOKEN_BYTES);
  await ctx.clickLog.append({ v: CLICK_LOG_VERSION, type: 'view', pageView, left, shown: { local: lists.local.length, global: lists.global.length }, versions });
  ctx.pageViews.add({ id: pageView, token, left, lists });
  const shows = (arm: Arm) => pageShows(ctx.catalog, lists[arm], new Set(lists[otherArm(arm)]));
  return {
    state: 'experiment',
    message: null,
    pageView,
    token,
    versions,
    columns: [
      { side: 'left', arm: left, shows: shows(left) },
      { side: 'right', arm: right, shows: shows(right) },
    ],
  };
}

export function registerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const recommendations = freshFor(ctx.now, () => loadRecommendations(ctx, ctx.profile, ctx.config.RECS_PER_COLUMN));
  const status = freshFor(ctx.now, async () => {
    const dir = ctx.ws.privateDir(ctx.profile);
    const state = await readProfileState(dir);
    const { config } = ctx;
    const spent = privacySpent(await readPrivacyLedger(dir), configuredBudget(config), ctx.now());
    const global = state ? await readGrantedGlobal(ctx.ws, ctx.config.AGGREGATOR_DATASITE, { items: state.items, rank: state.rank, vocabHash: state.vocabHash }, ctx.logger) : null;
    return {
      profile: ctx.profile,
      access: state === null ? 'untrained' : global ? 'granted' : 'waiting',
      trainedAt: state?.trainedAt ?? null,
      versions: { global: global?.manifest.version ?? null, localBase: state?.baseVersion ?? null },
      recsPerColumn: ctx.config.RECS_PER_COLUMN,
      protection: protectionStatement(ctx.config),
      budget: budgetStatement(ctx.config, spent.epsilon),
    };
  });
  app.get('/api/health', { schema: { querystring: emptyObject, response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } }, ...errorResponses } } }, async () => ({
    status: 'ok',
  }));

  app.get('/api/status', { schema: { querystring: emptyObject, response: { 200: statusSchema, ...errorResponses } } }, status);

  app.post(
    '/api/views',
    { onRequest: async (request) => assertSameOrigin(request), schema: { querystring: emptyObject, body: emptyObject, response: { 200: pageSchema, ...errorResponses } } },
    async (): Promise<PageData> => createPageView(ctx, recommendations),
  );

  app.post<{ Body: ClickBody }>(
    '/api/click',
    {
      onRequest: async (request) => assertSameOrigin(request),
      schema: {
        querystring: emptyObject,
        body: clickBodySchema,
        response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['recorded', 'duplicate'] } } }, ...errorResponses },
      },
    },
    async (request) => {
      const { pageView, token, side, item } = request.body;
      const view = ctx.pageViews.get(pageView);
      if (!view) throw new AppError('ERR_PAGE_VIEW_EXPIRED', 'this page is out of date (the server restarted or it is too old): reload it');
      if (!tokensEqual(token, view.token)) throw new AppError('ERR_CROSS_ORIGIN', 'request refused: the page token does not match this page view');
      const arm = armOnSide(view.left, side);
      const rank = view.lists[arm].indexOf(item) + 1;
      if (rank === 0) throw new AppError('ERR_BAD_REQUEST', `show ${item} was not in the ${side} column of this page`);
      if (!ctx.pageViews.claim(view, arm, item)) return { status: 'duplicate' as const };
      try {
        await ctx.clickLog.append({ v: CLICK_LOG_VERSION, type: 'click', pageView, side, arm, rank });
      } catch (err) {
        ctx.pageViews.release(view, arm, item);
        throw err;
      }
      ctx.logger.debug({ side, arm, rank }, 'recorded a click');
      return { status: 'recorded' as const };
    },
  );
}
