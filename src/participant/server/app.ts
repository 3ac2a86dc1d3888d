import { createHash } from 'node:crypto';
import { promises as fs, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { contentKey } from '../../shared/atomic';
import { createMatcher, type Catalog, type Matcher } from '../../shared/catalog';
import { PROJECT_ROOT, type Config } from '../../shared/config';
import { AppError, type ErrorCode } from '../../shared/errors';
import { silentLogger, type Logger } from '../../shared/log';
import { cryptoRandom, type Random } from '../../shared/random';
import type { Workspace } from '../../shared/workspace';
import { ClickLog, clickLogFile } from '../clicks';
import { PageViews } from './page-views';
import { insightsRoutes } from './insights-routes';
import { registerRoutes } from './routes';
import { guardRequest, isLoopbackHost, SECURITY_HEADERS } from './security';

/**
 * The click-experiment page of one participant profile: static files from
 * `ui/` and the JSON API of `routes.ts`, hardened as described in
 * `security.ts`. `buildApp` only builds; `startServer` (the process entry)
 * listens.
 */

export interface AppOptions {
  config: Config;
  workspace: Workspace;
  catalog: Catalog;
  /** Profile folder name, `profile_<n>`. */
  profile: string;
  /** Title matcher for the insights pages; built from `catalog` when absent. */
  matcher?: Matcher;
  logger?: Logger;
  now?: () => Date;
  /** Which list goes on the left of each page view; the OS CSPRNG by default. */
  random?: Random;
  /** Click log file; defaults to `clickLogFile(ws, profile)`, the private one. */
  clickLog?: string;
  /** Folder of the page's static files; defaults to the project's `ui/`. */
  uiDir?: string;
}

/** Largest request body accepted; a click is ~150 bytes. */
export const MAX_BODY_BYTES = 4 * 1024; // 4 KiB

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  ERR_BAD_REQUEST: 400,
  ERR_CROSS_ORIGIN: 403,
  ERR_NOT_FOUND: 404,
  ERR_PAGE_VIEW_EXPIRED: 409,
};
const MAX_ECHOED_URL_CHARS = 200;
/** Bind addresses that mean "every interface"; the printed URL names the machine's network addresses for them. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);

interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
}

/** The JSON error for any failure: codes from the catalogue, never a stack trace. */
function errorBody(err: FastifyError | AppError | Error): ErrorBody {
  if (err instanceof AppError) {
    return { statusCode: STATUS_OF[err.code] ?? 500, code: err.code, message: err.message };
  }
  const statusCode = (err as FastifyError).statusCode;
  if ((err as FastifyError).validation) return { statusCode: 400, code: 'ERR_BAD_REQUEST', message: `invalid request: ${err.message}` };
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) return { statusCode, code: 'ERR_BAD_REQUEST', message: err.message };
  return { statusCode: 500, code: 'ERR_INTERNAL', message: 'unexpected error in the page server; the app log has the details' };
}

/** Build the page's server (not listening). */
export function buildApp(options: AppOptions): FastifyInstance {
  const { config, workspace: ws, catalog, profile } = options;
  const logger = options.logger ?? silentLogger;
  // The log stays private: only its per-arm counts leave (the community round, or noised weekly counts in plain mode).
  const clickLog = new ClickLog(options.clickLog ?? clickLogFile(ws, profile), { logger, private: true });
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // A URL that does not decode (`/%zz`) is refused before routing and hooks: answer it like every other error.
    frameworkErrors: (err, _request, reply) => {
      const body = errorBody(err);
      void (reply as FastifyReply).headers(SECURITY_HEADERS).code(body.statusCode).type('application/json').send(body);
    },
  });

  app.addHook('onRequest', guardRequest(config.WEB_HOST));
  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const body = errorBody(err);
    if (body.statusCode >= 500) logger.error({ err, method: request.method, url: request.url }, 'page server failure');
    else logger.debug({ code: body.code, method: request.method, url: request.url }, body.message);
    void reply.code(body.statusCode).type('application/json').send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = { statusCode: 404, code: 'ERR_NOT_FOUND', message: `no route ${request.method} ${request.url.slice(0, MAX_ECHOED_URL_CHARS)}` };
    void reply.code(404).type('application/json').send(body);
  });
  app.addHook('onClose', async () => clickLog.flushed());

  const uiDir = options.uiDir ?? path.join(PROJECT_ROOT, 'ui');
  void app.register(fastifyStatic, { root: uiDir, prefix: '/', wildcard: false, list: false, index: false, dotfiles: 'deny' });
  const index = fileInMemory(path.join(uiDir, 'index.html'));
  app.get('/', async (request, reply) => {
    const page = await index();
    if (request.headers['if-none-match'] === page.etag) return reply.code(304).send();
    return reply.type('text/html; charset=utf-8').header('etag', page.etag).header('cache-control', 'no-cache').send(page.body);
  });
  registerRoutes(app, {
    config,
    ws,
    catalog,
    profile,
    logger,
    now: options.now ?? (() => new Date()),
    random: options.random ?? cryptoRandom(),
    clickLog,
    pageViews: new PageViews(),
  });
  void app.register(insightsRoutes, {
    config,
    ws,
    catalog,
    matcher: options.matcher ?? createMatcher(catalog),
    profile,
    logger,
    now: options.now,
    uiDir: options.uiDir,
  });
  return app;
}

/**
 * `GET /` is the most requested URL (every visit and reload): its file is served
 * from memory, checked against the disk with one stat per request (an edited
 * ui/index.html shows at the next load), instead of a stat, open, read and close
 * through the static plugin.
 */
function fileInMemory(file: string): () => Promise<{ body: Buffer; etag: string }> {
  let cached: { key: string; body: Buffer; etag: string } | null = null;
  return async () => {
    const stat = statSync(file); // microseconds for a cached inode; an async stat costs more than the request
    const key = contentKey(stat);
    if (cached?.key !== key) {
      const body = await fs.readFile(file);
      cached = { key, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
    }
    return cached;
  };
}

interface ListenOptions {
  host: string;
  port: number;
  /** WEB_ALLOW_REMOTE: without it, a WEB_HOST other machines can reach is refused. */
  allowRemote?: boolean;
  /** Where the warning about a page reachable from the network goes. */
  logger?: Logger;
}

/**
 * Listen; resolves to the page's URL. A taken port becomes ERR_PORT_IN_USE with
 * what to do. The page shows your recommendations, viewing insights and blend
 * and has no login, so a WEB_HOST that is not loopback is refused unless
 * WEB_ALLOW_REMOTE is set, and then warned about on every start, with the
 * addresses other machines reach it at (never a loopback URL that hides the exposure).
 */
export async function startServer(app: FastifyInstance, { host, port, allowRemote = false, logger = silentLogger }: ListenOptions): Promise<string> {
  const remote = !isLoopbackHost(host);
  if (remote && !allowRemote) {
    throw new AppError('ERR_CONFIG_INVALID', `WEB_HOST=${host} would let other machines on the network read your page (recommendations, viewing insights, blend; it has no login): set WEB_HOST=127.0.0.1, or WEB_ALLOW_REMOTE=true if you mean it`);
  }
  try {
    await app.listen({ host, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new AppError('ERR_PORT_IN_USE', `port ${port} is in use: set WEB_PORT or stop the other process`);
    }
    throw err;
  }
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const urls = (WILDCARD_HOSTS.has(host) ? networkAddresses(host) : [host]).map((h) => `http://${h.includes(':') ? `[${h}]` : h}:${actualPort}`);
  if (remote) {
    logger.warn({ host, urls }, `THE PAGE IS REACHABLE FROM OTHER MACHINES at ${urls.join(', ')} (WEB_HOST=${host}, WEB_ALLOW_REMOTE=true): anyone who can reach them sees your recommendations, viewing insights and blend; set WEB_HOST=127.0.0.1 to keep it on this machine`);
  }
  return urls[0];
}

/** The addresses a wildcard bind is reachable at from other machines (IPv4 first); the wildcard itself when there is none. */
function networkAddresses(wildcard: string): string[] {
  const found = Object.values(os.networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal && (wildcard === '::' || a.family === 'IPv4'))
    .sort((a, b) => (a.family === b.family ? 0 : a.family === 'IPv4' ? -1 : 1))
    .map((a) => a.address);
  return found.length > 0 ? found : [wildcard];
}
