import http from 'node:http';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickLogFile } from '../../src/participant/clicks';
import { readClickLog } from '../../src/shared/clicks';
import { buildApp, MAX_BODY_BYTES, startServer } from '../../src/participant/server/app';
import { BLEND_BODY_BYTES } from '../../src/participant/server/insights-routes';
import type { PageData } from '../../src/participant/server/routes';
import { SECURITY_HEADERS } from '../../src/participant/server/security';
import { PROJECT_ROOT } from '../../src/shared/config';
import { WAIT_MS } from '../helpers/process';
import { createFixture, PROFILE, type Fixture } from '../helpers/server';

/**
 * The page's server as a browser or an attacker reaches it: a real listening
 * socket (not `inject`), raw request paths (no client-side URL normalization),
 * chunked bodies without a length. test/participant/server.test.ts covers the
 * click API through `inject`; here: the insights and blend routes, encoded path
 * traversal, directory probes, bodies too large or of another type, framework
 * errors, and the security headers on every kind of answer.
 */
let fixture: Fixture;
let app: FastifyInstance;
let port: number;
beforeAll(async () => {
  fixture = await createFixture();
  app = buildApp({ config: fixture.config, workspace: fixture.ws, catalog: fixture.catalog, profile: PROFILE });
  port = Number(new URL(await startServer(app, { host: '127.0.0.1', port: 0 })).port);
});
afterAll(async () => {
  await app.close();
  await fixture.cleanup();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request over a real socket; `path` is sent exactly as given. */
function request(method: string, path: string, options: { headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[] } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...options.headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    // a server that answers before reading the whole body may reset the socket; the answer has arrived by then
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || (err as NodeJS.ErrnoException).code === 'EPIPE' ? undefined : reject(err)));
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end(options.body);
  });
}

const json = { 'content-type': 'application/json' };
const sameOrigin = () => ({ ...json, origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' });
const post = (path: string, body: unknown, headers: Record<string, string> = sameOrigin()) => request('POST', path, { headers, body: JSON.stringify(body) });

/** The security headers, and no CORS grant that would let another origin read the answer. */
function expectHardened(answer: Answer, what: string): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(answer.headers[name], `${what}: ${name}`).toBe(value);
  expect(answer.headers['access-control-allow-origin'], what).toBeUndefined();
}

/** A catalogue error: exactly { statusCode, code, message }, no stack trace, no path of the server's files. */
function expectError(answer: Answer, status: number, code: string, what: string): void {
  expect(answer.status, `${what}: ${answer.body.slice(0, 200)}`).toBe(status);
  expect(answer.headers['content-type'], what).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  expect(Object.keys(body).sort(), what).toEqual(['code', 'message', 'statusCode']);
  expect(body, what).toMatchObject({ statusCode: status, code });
  expect(body.message, what).not.toMatch(/\n\s+at |\.(ts|js):\d+:\d+/);
  expect(body.message, what).not.toContain(PROJECT_ROOT);
  expectHardened(answer, what);
}

async function clickRows(): Promise<number> {
  return ((await readClickLog(clickLogFile(fixture.ws, PROFILE)))?.rows ?? []).filter((r) => r.type === 'click').length;
}

describe('paths', () => {
  it('never serves a file outside ui/, however the path is encoded', async () => {
    const probes = [
      '/../package.json',
      '/..',
      '/%2e%2e/package.json',
      '/%2e%2e%2fpackage.json',
      '/..%2fpackage.json',
      '/..%5cpackage.json',
      '/%2e%2e%5cpackage.json',
      '/..%252fpackage.json',
      '/..;/package.json',
      '/\\..\\package.json',
      '/app.js/../../package.json',
      '/app.js%2f..%2f..%2fpackage.json',
      '/vendor/../../package.json',
      '/vendor/chart.umd.js/..',
      '//etc/passwd',
      '/node_modules/chart.js/package.json',
      '/src/cli.ts',
      '/.env',
      '/%2eenv',
      '/.git/config',
      '/style.css%00.js',
    ];
    for (const path of probes) {
      const answer = await request('GET', path);
      expectError(answer, 404, 'ERR_NOT_FOUND', path);
      expect(answer.body, path).not.toContain('syftbox-netflix-svd');
    }
  });

  it('lists no folder: /, /ui/, /vendor/, /api/ and the pages with a slash', async () => {
    const index = await request('GET', '/');
    expect(index.status).toBe(200);
    expect(index.body).toMatch(/^<!doctype html>/i);
    expectHardened(index, '/');
    for (const path of ['/ui/', '/ui', '/vendor/', '/vendor', '/api/', '/api', '/insights/', '/blend/', '/%2e%2e/', '/../']) {
      expectError(await request('GET', path), 404, 'ERR_NOT_FOUND', path);
    }
  });

  it('answers a URL that does not decode with a catalogue error and the security headers', async () => {
    for (const path of ['/%', '/%zz', '/api/%E0%A4%A']) expectError(await request('GET', path), 400, 'ERR_BAD_REQUEST', path);
  });

  it('answers unknown routes and methods with a JSON 404', async () => {
    for (const [method, path] of [['GET', '/nope'], ['GET', '/api/insights/extra'], ['PUT', '/api/click'], ['DELETE', '/api/blend'], ['PATCH', '/'], ['TRACE', '/'], ['POST', '/insights']]) {
      expectError(await request(method, path), 404, 'ERR_NOT_FOUND', `${method} ${path}`);
    }
  });

  it('refuses query parameters on every route, the pages included', async () => {
    for (const path of ['/insights?debug=1', '/blend?x=1', '/vendor/chart.umd.js?v=2', '/api/insights?all=1', '/api/community?week=1', '/api/blend?friend=x']) {
      expectError(await request('GET', path), 400, 'ERR_BAD_REQUEST', path);
    }
  });

  it('refuses a Host that is not this machine on every route (DNS rebinding)', async () => {
    for (const [method, path] of [['GET', '/'], ['GET', '/insights'], ['GET', '/api/insights'], ['GET', '/api/blend'], ['POST', '/api/views']]) {
      const answer = await request(method, path, { headers: { host: `rebind.attacker.example:${port}` } });
      expectError(answer, 403, 'ERR_CROSS_ORIGIN', `${method} ${path}`);
    }
  });
});

describe('the insights and blend pages', () => {
  it('serve their pages, scripts, Chart.js, the icon and JSON with the security headers', async () => {
    for (const [path, type] of [
      ['/favicon.svg', /^image\/svg\+xml/],
      ['/insights', /^text\/html/],
      ['/blend', /^text\/html/],
      ['/insights.js', /javascript/],
      ['/blend.js', /javascript/],
      ['/insights.css', /^text\/css/],
      ['/vendor/chart.umd.js', /javascript/],
      ['/api/insights', /^application\/json/],
      ['/api/community', /^application\/json/],
      ['/api/blend', /^application\/json/],
    ] as const) {
      const answer = await request('GET', path);
      expect(answer.status, path).toBe(200);
      expect(answer.headers['content-type'], path).toMatch(type);
      expectHardened(answer, path);
    }
    expect((await request('GET', '/api/insights')).headers['cache-control']).toBe('no-store');
  });

  it('refuses a blend request from another origin, another site or a form, and changes nothing', async () => {
    const evil = [
      { ...json, origin: 'https://attacker.example' },
      { ...json, origin: `http://127.0.0.1:${port + 1}` },
      // same host and port, other scheme (issue 20: this was accepted)
      { ...json, origin: `https://127.0.0.1:${port}` },
      { ...json, origin: 'null' },
      { ...json, 'sec-fetch-site': 'cross-site' },
      { ...json, 'sec-fetch-site': 'same-site', origin: `http://127.0.0.1:${port}` },
    ];
    for (const headers of evil) expectError(await post('/api/blend', { friend: 'mallory@attacker.example' }, headers), 403, 'ERR_CROSS_ORIGIN', JSON.stringify(headers));
    // what an HTML form can send without CORS: text/plain, urlencoded, multipart
    const forms: [string, string, number][] = [
      ['text/plain', '{"friend":"mallory@attacker.example"}', 400],
      ['application/x-www-form-urlencoded', 'friend=mallory%40attacker.example', 415],
      ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="friend"\r\n\r\nmallory@attacker.example\r\n--x--\r\n', 415],
    ];
    for (const [type, body, status] of forms) expectError(await request('POST', '/api/blend', { headers: { 'content-type': type }, body }), status, 'ERR_BAD_REQUEST', type);
    const blend = JSON.parse((await request('GET', '/api/blend')).body) as { friend: string | null; state: string };
    expect(blend).toMatchObject({ friend: null, state: 'off' });
  });

  it('refuses malformed blend bodies with 400', async () => {
    for (const body of [{}, { friend: 42 }, { friend: 'x' }, { friend: 'bob@example.org', extra: true }, { friend: 'a'.repeat(300) }, []]) {
      expectError(await post('/api/blend', body), 400, 'ERR_BAD_REQUEST', JSON.stringify(body).slice(0, 40));
    }
    expectError(await request('POST', '/api/blend', { headers: sameOrigin(), body: '{"friend":' }), 400, 'ERR_BAD_REQUEST', 'truncated JSON');
  });
});

describe('bodies', () => {
  it(`refuses a blend body over ${BLEND_BODY_BYTES} bytes and a click or view body over ${MAX_BODY_BYTES} bytes with 413`, async () => {
    const pad = (bytes: number) => 'x'.repeat(bytes);
    expectError(await post('/api/blend', { friend: `${pad(BLEND_BODY_BYTES)}@example.org` }), 413, 'ERR_BAD_REQUEST', 'blend');
    expectError(await post('/api/click', { pageView: 'AAAAAAAA', token: 'AAAAAAAA', side: 'left', item: 1, pad: pad(MAX_BODY_BYTES) }), 413, 'ERR_BAD_REQUEST', 'click');
    expectError(await post('/api/views', { pad: pad(MAX_BODY_BYTES) }), 413, 'ERR_BAD_REQUEST', 'views');
  });

  it('refuses an oversized chunked body (no Content-Length) and a declared length over the limit, without reading it', async () => {
    const chunks = Array.from({ length: 8 }, () => Buffer.from(`"${'x'.repeat(1022)}",`));
    const chunked = await request('POST', '/api/click', { headers: { ...sameOrigin(), 'transfer-encoding': 'chunked' }, chunks, body: '0' });
    expectError(chunked, 413, 'ERR_BAD_REQUEST', 'chunked');
    // declares 1 GiB, sends 10 bytes: answered at once from the header
    const declared = await rawExchange(`POST /api/blend HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${2 ** 30}\r\n\r\n{"friend":`);
    expect(declared).toMatch(/^HTTP\/1\.1 413 /);
    expect(declared).toContain('"code":"ERR_BAD_REQUEST"');
  });

  it('records no click from a refused request', async () => {
    const page = JSON.parse((await post('/api/views', {})).body) as PageData;
    expect(page.state).toBe('experiment');
    const before = await clickRows();
    const item = page.columns[0].shows[0].id;
    const click = { pageView: page.pageView, token: page.token, side: 'left', item };
    expectError(await post('/api/click', click, { ...json, origin: 'https://attacker.example' }), 403, 'ERR_CROSS_ORIGIN', 'cross-origin click');
    expectError(await post('/api/click', click, { ...json, 'sec-fetch-site': 'cross-site' }), 403, 'ERR_CROSS_ORIGIN', 'cross-site click');
    expectError(await request('POST', '/api/click', { headers: { 'content-type': 'text/plain' }, body: JSON.stringify(click) }), 400, 'ERR_BAD_REQUEST', 'text/plain click');
    expectError(await post('/api/click', { ...click, token: 'A'.repeat(32) }), 403, 'ERR_CROSS_ORIGIN', 'forged token');
    expect(await clickRows()).toBe(before);
    const ok = await post('/api/click', click);
    expect(ok.status).toBe(200);
    expectHardened(ok, 'same-origin click');
    expect(await clickRows()).toBe(before + 1);
  });
});

/** Send raw bytes, return what the server answers before it closes or 2 s pass. */
function rawExchange(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    const done = () => {
      socket.destroy();
      resolve(answer);
    };
    socket.on('data', (d: Buffer) => {
      answer += d.toString('utf8');
      if (/\r\n\r\n[\s\S]*\}$/.test(answer)) done();
    });
    socket.on('end', done);
    socket.on('error', (err) => (answer ? done() : reject(err)));
    socket.setTimeout(WAIT_MS, done);
  });
}
