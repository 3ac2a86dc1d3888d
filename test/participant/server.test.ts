import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { clickLogFile } from '../../src/participant/clicks';
import { readClickLog, type ClickRow, type PageViewRow } from '../../src/shared/clicks';
import { buildApp, MAX_BODY_BYTES, startServer, type AppOptions } from '../../src/participant/server/app';
import { protectionStatement, type PageData } from '../../src/participant/server/routes';
import { isLoopbackHost } from '../../src/participant/server/security';
import { AppError } from '../../src/shared/errors';
import { parsePermissions } from '../../src/shared/permissions';
import type { Random } from '../../src/shared/random';
import { AGGREGATOR, createFixture, GLOBAL_VERSION, PROFILE, WATCHED, type Fixture, type FixtureOptions } from '../helpers/server';

let fixture: Fixture | null = null;
let app: FastifyInstance | null = null;

afterEach(async () => {
  await app?.close();
  await fixture?.cleanup();
  app = null;
  fixture = null;
});

/** A Random whose next() returns the given values in turn (to choose the left arm). */
function sequence(...values: number[]): Random {
  let i = 0;
  const next = () => values[i++ % values.length];
  return { next, normal: () => 0, int: (n) => Math.floor(next() * n) };
}

async function setup(options: FixtureOptions = {}, appOptions: Partial<AppOptions> = {}): Promise<{ fixture: Fixture; app: FastifyInstance }> {
  fixture = await createFixture(options);
  app = buildApp({
    config: fixture.config,
    workspace: fixture.ws,
    catalog: fixture.catalog,
    profile: PROFILE,
    now: () => new Date('2026-11-21T16:00:00.000Z'),
    ...appOptions,
  });
  await app.ready();
  return { fixture, app };
}

function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.json() as T;
}

async function newPage(a: FastifyInstance): Promise<PageData> {
  const res = await a.inject({ method: 'POST', url: '/api/views', payload: {} });
  expect(res.statusCode).toBe(200);
  return json<PageData>(res);
}

function click(a: FastifyInstance, page: Pick<PageData, 'pageView' | 'token'>, side: 'left' | 'right', item: number, headers: Record<string, string> = {}) {
  return a.inject({ method: 'POST', url: '/api/click', headers, payload: { pageView: page.pageView, token: page.token, side, item } });
}

async function logRows(f: Fixture) {
  return (await readClickLog(clickLogFile(f.ws, PROFILE)))?.rows ?? [];
}

function expectNoStack(res: LightMyRequestResponse) {
  expect(res.body).not.toMatch(/\bat .*\.(ts|js):\d+|stack/i);
}

describe('health and status', () => {
  it('GET /api/health answers ok', async () => {
    const { app } = await setup();
    const res = await app.inject('/api/health');
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ status: 'ok' });
  });

  it('GET /api/status reports versions, training time and access, and nothing of the history', async () => {
    const { app } = await setup();
    const res = await app.inject('/api/status');
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({
      profile: PROFILE,
      access: 'granted',
      trainedAt: '2026-11-21T15:00:00.000Z',
      versions: { global: GLOBAL_VERSION, localBase: GLOBAL_VERSION },
      recsPerColumn: 5,
      protection: expect.stringContaining('secure aggregation'),
      budget: 'Privacy budget: this profile has spent ε = 0.00 of 13.28 in the last 365 days (δ = 0.00001, every release composed); a round or community week it cannot pay for is sat out until older releases leave the window.',
    });
  });

  it('GET /api/status says untrained before the first training and waiting before access', async () => {
    const { app } = await setup({ trained: false });
    expect(json(await app.inject('/api/status'))).toMatchObject({ access: 'untrained', trainedAt: null, versions: { global: null, localBase: null } });
    await app.close();
    await fixture!.cleanup();
    const second = await setup({ granted: false });
    expect(json(await second.app.inject('/api/status'))).toMatchObject({ access: 'waiting', versions: { global: null, localBase: GLOBAL_VERSION } });
  });

  it('rejects unknown query parameters', async () => {
    const { app } = await setup();
    const res = await app.inject('/api/health?debug=1');
    expect(res.statusCode).toBe(400);
    expect(json(res)).toMatchObject({ code: 'ERR_BAD_REQUEST' });
  });
});

describe('page views', () => {
  it('serves two columns, one per arm, without watched shows, and logs the view', async () => {
    const { app, fixture } = await setup();
    const page = await newPage(app);
    expect(page.state).toBe('experiment');
    expect(page.message).toBeNull();
    expect(page.versions).toEqual({ global: GLOBAL_VERSION, localBase: GLOBAL_VERSION });
    expect(page.columns.map((c) => c.side)).toEqual(['left', 'right']);
    expect(page.columns.map((c) => c.arm).sort()).toEqual(['global', 'local']);
    for (const col of page.columns) {
      expect(col.shows).toHaveLength(5);
      expect(col.shows.map((s) => s.rank)).toEqual([1, 2, 3, 4, 5]);
      for (const show of col.shows) {
        expect(WATCHED).not.toContain(show.id);
        expect(show).not.toHaveProperty('score');
        expect(show.title).toBe(fixture.catalog.items[show.id].title);
      }
    }
    const [left, right] = page.columns;
    for (const show of left.shows) expect(show.inBoth).toBe(right.shows.some((s) => s.id === show.id));

    const rows = await logRows(fixture);
    expect(rows).toHaveLength(1);
    const view = rows[0] as PageViewRow;
    expect(view).toEqual({
      v: 2,
      type: 'view',
      pageView: page.pageView,
      left: left.arm,
      shown: { [left.arm]: left.shows.length, [right.arm]: right.shows.length },
      versions: { global: GLOBAL_VERSION, localBase: GLOBAL_VERSION },
    });
    // no titles, no show ids, no times (issue 20: the aggregator read both lists of every page view)
    const text = await fs.readFile(clickLogFile(fixture.ws, PROFILE), 'utf8');
    expect(text).not.toContain(left.shows[0].title);
    expect(text).not.toMatch(/"at"|"item"|2026-/);
  });

  it('puts each arm on either side as the injected randomness decides', async () => {
    const { app } = await setup({}, { random: sequence(0.1, 0.9) });
    expect((await newPage(app)).columns[0].arm).toBe('local');
    expect((await newPage(app)).columns[0].arm).toBe('global');
  });

  it('shows a friendly waiting state with the local list before access is granted', async () => {
    const { app, fixture } = await setup({ granted: false });
    const page = await newPage(app);
    expect(page.state).toBe('waiting');
    expect(page.message).toMatch(/Waiting for the aggregator to share the global model/);
    expect(page.pageView).toBeNull();
    expect(page.columns).toHaveLength(1);
    expect(page.columns[0]).toMatchObject({ side: 'left', arm: 'local' });
    expect(page.columns[0].shows).toHaveLength(5);
    expect(existsSync(clickLogFile(fixture.ws, PROFILE))).toBe(false);
  });

  it('tells the user to run the participant before the first training', async () => {
    const { app } = await setup({ trained: false, global: false });
    const page = await newPage(app);
    expect(page.state).toBe('untrained');
    expect(page.message).toMatch(/participant/);
    expect(page.columns).toEqual([]);
  });

  const modes = { 'with secure aggregation': {}, 'in plain mode too': { SECURE_AGGREGATION: 'off', MERGE_MODE: 'fedavg' } };
  for (const [mode, configOverrides] of Object.entries(modes)) {
    it(`${mode}, keeps the click log on this machine: private, 0600, nothing published`, async () => {
      const { app, fixture } = await setup({ configOverrides });
      await newPage(app);
      await app.close();
      const file = fixture.ws.privateClickLog(PROFILE);
      expect((await readClickLog(file))!.rows).toHaveLength(1);
      expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
      expect(existsSync(fixture.ws.clickLog(PROFILE))).toBe(false);
    });
  }

  it('answers a broken model with a JSON error, not a stack trace', async () => {
    const { app, fixture } = await setup();
    await fs.writeFile(path.join(fixture.ws.privateDir(PROFILE), 'state.json'), '{ not json');
    const res = await app.inject({ method: 'POST', url: '/api/views', payload: {} });
    expect(res.statusCode).toBe(500);
    expect(json(res)).toMatchObject({ code: 'ERR_JSON_FORMAT' });
    expectNoStack(res);
  });
});

describe('clicks', () => {
  it('records a click with its side, arm and rank', async () => {
    const { app, fixture } = await setup();
    const page = await newPage(app);
    const right = page.columns[1];
    const res = await click(app, page, 'right', right.shows[2].id);
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ status: 'recorded' });
    const rows = await logRows(fixture);
    expect(rows[1]).toEqual({
      v: 2,
      type: 'click',
      pageView: page.pageView!,
      side: 'right',
      arm: right.arm,
      rank: 3,
    } satisfies ClickRow);
  });

  it('counts a show once per list per page view', async () => {
    const { app, fixture } = await setup({ globalShift: 0.05 });
    const page = await newPage(app);
    const shared = page.columns[0].shows.find((s) => s.inBoth);
    expect(shared).toBeDefined();
    expect(json(await click(app, page, 'left', shared!.id))).toEqual({ status: 'recorded' });
    expect(json(await click(app, page, 'left', shared!.id))).toEqual({ status: 'duplicate' });
    expect(json(await click(app, page, 'right', shared!.id))).toEqual({ status: 'recorded' });
    const second = await newPage(app);
    const again = second.columns.find((c) => c.shows.some((s) => s.id === shared!.id))!;
    expect(json(await click(app, second, again.side, shared!.id))).toEqual({ status: 'recorded' });
    const clicks = (await logRows(fixture)).filter((r) => r.type === 'click');
    expect(clicks).toHaveLength(3);
  });

  it('rejects malformed bodies with 400 and a JSON error', async () => {
    const { app } = await setup();
    const page = await newPage(app);
    const bodies: unknown[] = [
      {},
      { pageView: page.pageView, token: page.token, side: 'middle', item: 1 },
      { pageView: page.pageView, token: page.token, side: 'left', item: 'three' },
      { pageView: page.pageView, token: page.token, side: 'left', item: -1 },
      { pageView: page.pageView, token: page.token, side: 'left', item: page.columns[0].shows[0].id, title: 'extra' },
      { pageView: '../../etc/passwd', token: page.token, side: 'left', item: 1 },
    ];
    for (const payload of bodies) {
      const res = await app.inject({ method: 'POST', url: '/api/click', payload: payload as object });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(json(res)).toMatchObject({ statusCode: 400, code: 'ERR_BAD_REQUEST' });
      expectNoStack(res);
    }
    const notJson = await app.inject({ method: 'POST', url: '/api/click', headers: { 'content-type': 'application/json' }, payload: '{"pageView":' });
    expect(notJson.statusCode).toBe(400);
    expect(json(notJson)).toMatchObject({ code: 'ERR_BAD_REQUEST' });
    expectNoStack(notJson);
  });

  it('rejects a show that was not in that column', async () => {
    const { app } = await setup();
    const page = await newPage(app);
    const res = await click(app, page, 'left', WATCHED[0]);
    expect(res.statusCode).toBe(400);
    expect(json(res)).toMatchObject({ code: 'ERR_BAD_REQUEST' });
  });

  it('answers 409 for a page view it does not know', async () => {
    const { app } = await setup();
    const page = await newPage(app);
    const res = await click(app, { ...page, pageView: 'AAAAAAAAAAAAAAAA' }, 'left', page.columns[0].shows[0].id);
    expect(res.statusCode).toBe(409);
    expect(json(res)).toMatchObject({ code: 'ERR_PAGE_VIEW_EXPIRED' });
  });

  it('loses and tears no row under 200 concurrent clicks', async () => {
    const { app, fixture } = await setup();
    const pages = await Promise.all(Array.from({ length: 20 }, () => newPage(app)));
    const results = await Promise.all(pages.flatMap((page) => page.columns.flatMap((col) => col.shows.map((s) => click(app, page, col.side, s.id)))));
    expect(results).toHaveLength(200);
    expect(results.every((r) => r.statusCode === 200 && r.json().status === 'recorded')).toBe(true);
    const parsed = (await readClickLog(clickLogFile(fixture.ws, PROFILE)))!;
    expect(parsed.rejected).toBe(0);
    expect(parsed.torn).toBe(false);
    expect(parsed.rows.filter((r) => r.type === 'click')).toHaveLength(200);
    expect(parsed.rows.filter((r) => r.type === 'view')).toHaveLength(20);
  });
});

describe('cross-origin and request hardening', () => {
  it('refuses clicks from another origin or site with 403', async () => {
    const { app, fixture } = await setup();
    const page = await newPage(app);
    const item = page.columns[0].shows[0].id;
    const attempts: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'https://localhost' },
      { origin: 'https://localhost:80' },
      { origin: 'ws://localhost:80' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'null' },
    ];
    for (const headers of attempts) {
      const res = await click(app, page, 'left', item, headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(403);
      expect(json(res)).toMatchObject({ code: 'ERR_CROSS_ORIGIN' });
    }
    const views = await app.inject({ method: 'POST', url: '/api/views', headers: { origin: 'https://evil.example' }, payload: {} });
    expect(views.statusCode).toBe(403);
    expect((await logRows(fixture)).filter((r) => r.type === 'click')).toHaveLength(0);
  });

  it('accepts the same origin and refuses a wrong page token', async () => {
    const { app } = await setup();
    const page = await newPage(app);
    const item = page.columns[0].shows[0].id;
    const sameOrigin = { origin: 'http://localhost:80', 'sec-fetch-site': 'same-origin' };
    const forged = await click(app, { ...page, token: 'x'.repeat(32) }, 'left', item, sameOrigin);
    expect(forged.statusCode).toBe(403);
    expect(json(forged)).toMatchObject({ code: 'ERR_CROSS_ORIGIN' });
    const ok = await click(app, page, 'left', item, sameOrigin);
    expect(ok.statusCode).toBe(200);
  });

  it('refuses a Host name other than this machine (DNS rebinding)', async () => {
    const { app } = await setup();
    const res = await app.inject({ url: '/api/status', headers: { host: 'rebind.evil.example:8081' } });
    expect(res.statusCode).toBe(403);
    expect(json(res)).toMatchObject({ code: 'ERR_CROSS_ORIGIN' });
    for (const host of ['127.0.0.1:8081', 'localhost', '[::1]:8081']) {
      expect((await app.inject({ url: '/api/health', headers: { host } })).statusCode, host).toBe(200);
    }
  });

  it('answers an oversized body with 413', async () => {
    const { app } = await setup();
    const page = await newPage(app);
    const res = await app.inject({
      method: 'POST',
      url: '/api/click',
      payload: { pageView: page.pageView, token: page.token, side: 'left', item: 1, pad: 'x'.repeat(MAX_BODY_BYTES) },
    });
    expect(res.statusCode).toBe(413);
    expect(json(res)).toMatchObject({ statusCode: 413, code: 'ERR_BAD_REQUEST' });
    expectNoStack(res);
  });

  it('answers unknown routes with a JSON 404 and no stack trace', async () => {
    const { app } = await setup();
    for (const url of ['/nope', '/api/nope', '/../package.json', '/%2e%2e/package.json', '/ui/', '/src/cli.ts']) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(404);
      expect(json(res)).toMatchObject({ statusCode: 404, code: 'ERR_NOT_FOUND' });
      expectNoStack(res);
    }
    const method = await app.inject({ method: 'DELETE', url: '/api/click' });
    expect(method.statusCode).toBe(404);
  });

  it('serves the page and its assets, never a directory listing', async () => {
    const { app } = await setup();
    const index = await app.inject('/');
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.body).toContain('<script src="/app.js" defer></script>');
    expect((await app.inject('/app.js')).headers['content-type']).toMatch(/javascript/);
    expect((await app.inject('/style.css')).headers['content-type']).toMatch(/^text\/css/);
  });

  it('sends the security headers on pages, API answers and errors', async () => {
    const { app } = await setup();
    for (const url of ['/', '/app.js', '/api/health', '/api/nope']) {
      const res = await app.inject(url);
      expect(res.headers['content-security-policy'], url).toMatch(/default-src 'self'/);
      expect(res.headers['content-security-policy']).toMatch(/img-src 'self' https:/);
      expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-frame-options']).toBe('DENY');
    }
    expect((await app.inject('/api/status')).headers['cache-control']).toBe('no-store');
  });
});

describe('startServer', () => {
  it('turns a taken port into ERR_PORT_IN_USE with what to do', async () => {
    const { app } = await setup();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const err = await startServer(app, { host: '127.0.0.1', port }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('ERR_PORT_IN_USE');
      expect((err as AppError).message).toBe(`port ${port} is in use: set WEB_PORT or stop the other process`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('refuses a WEB_HOST other machines can reach unless WEB_ALLOW_REMOTE, and then warns with the address they reach', async () => {
    const { app } = await setup();
    const err = await startServer(app, { host: '0.0.0.0', port: 0 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect((err as AppError).message).toMatch(/WEB_HOST=0\.0\.0\.0 would let other machines .* WEB_ALLOW_REMOTE=true/);
    expect(app.server.listening).toBe(false);

    const lines: { level: number; msg: string; urls?: string[] }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const url = await startServer(app, { host: '0.0.0.0', port: 0, allowRemote: true, logger });
    expect(new URL(url).hostname).not.toMatch(/^(127\.|localhost$)/);
    const warning = lines.find((l) => l.level === 40);
    expect(warning?.msg).toMatch(/THE PAGE IS REACHABLE FROM OTHER MACHINES at .*WEB_ALLOW_REMOTE=true/);
    expect(warning?.urls).toContain(url);
    expect(await (await fetch(`${url}/api/health`)).json()).toEqual({ status: 'ok' });
  });

  it('counts only loopback names and addresses as this machine', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.5', '10.0.0.1', 'example.org', '127.0.0.1.example.org', '::ffff:10.0.0.1']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('listens on an ephemeral port and returns the URL', async () => {
    const { app } = await setup();
    const url = await startServer(app, { host: '127.0.0.1', port: 0 });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/api/health`);
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});

describe('what the page says is protected', () => {
  const base = { SECURE_AGGREGATION: 'on' as const, DP_EPSILON: 0, DP_DELTA: 1e-6, MIN_DATASITES: 3, INSIGHTS_EPSILON: 4, BLEND_WITH: '', BLEND_EPSILON: 1, MODEL_RANK: 32, PRIVACY_PERIOD_DAYS: 365 };
  it('without noise: masked update, but the aggregator sees the sum without noise, and what that reveals', () => {
    const text = protectionStatement(base);
    expect(text).toContain('secure aggregation the aggregator learns the sum over at least 3 datasites');
    expect(text).toContain('No differential-privacy noise');
    expect(text).toContain('the aggregator can see the sum without noise');
    expect(text).not.toMatch(/never leaves/);
  });
  it('with noise (the default): the per-run guarantee, how often a run may start, and what it does not hide', () => {
    const text = protectionStatement({ ...base, DP_EPSILON: 8 });
    expect(text).toContain('differentially private runs of two rounds, at most one run every 365 days');
    expect(text).toContain('(ε = 8, δ = 0.000001) per run for your whole datasite');
    expect(text).toContain('not that you took part');
    expect(text).not.toMatch(/per round/);
  });
  it('in plain mode without noise: says the aggregator can see the update', () => {
    expect(protectionStatement({ ...base, SECURE_AGGREGATION: 'off' })).toContain('the aggregator can see your model update');
  });
  it('says what the community statistics, the click log and the blend give away', () => {
    const text = protectionStatement({ ...base, BLEND_WITH: 'friend@example.org' });
    expect(text).toContain('secure community round');
    expect(text).toContain('(ε = 4, δ = 0.000001) per week');
    expect(text).toContain('click log of the recommendation page stays on this machine');
    expect(text).toContain('friend@example.org');
    expect(protectionStatement({ ...base, SECURE_AGGREGATION: 'off' })).toContain('weaker protection than secure aggregation');
  });
});
