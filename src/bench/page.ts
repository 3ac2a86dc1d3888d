import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { buildApp } from '../participant/server/app';
import type { PageData } from '../participant/server/routes';
import type { Catalog } from '../shared/catalog';
import type { Config } from '../shared/config';
import type { Workspace } from '../shared/workspace';
import { percentile } from './load';

/**
 * Requests per second and p50/p99 latency of the participant page (`buildApp`,
 * real HTTP over a keep-alive agent), every route under a closed-loop load, as
 * ratios to issue 19's targets (1,000 requests/s, p99 20 ms), with the CPU time per
 * request and the load average (on a shared machine the wall-clock figures move
 * with the load; the CPU time much less).
 */

const CONCURRENCY = 16;
/** Issue 19's targets for every route: the anchors of the page figures. */
const TARGET_REQUESTS_PER_SEC = 1000;
const TARGET_P99_MS = 20;

interface Request {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}
/** The requests of one route's load: the next one, or null when there is no more (clicks run out of page views). */
type Requests = () => Request | null;

const every = (request: Request): Requests => () => request;

/** Every route the page serves, in the order measured, each with what makes its requests (before its clock starts). */
function routes(port: number): [string, () => Promise<Requests>][] {
  const plain = (method: 'GET' | 'POST', path: string, body?: string): [string, () => Promise<Requests>] => [`${method} ${path}`, async () => every({ method, path, body })];
  return [
    plain('GET', '/'),
    plain('GET', '/insights'),
    plain('GET', '/blend'),
    plain('GET', '/vendor/chart.umd.js'),
    plain('GET', '/api/health'),
    plain('GET', '/api/status'),
    plain('GET', '/api/insights'),
    plain('GET', '/api/community'),
    plain('GET', '/api/blend'),
    plain('POST', '/api/views', '{}'),
    // its page views are made right before: the views route above would have pushed earlier ones out
    ['POST /api/click', () => clickRequests(port, CLICK_VIEWS)],
    plain('POST', '/api/blend', '{"friend":null}'),
  ];
}

/** Page views the click load uses: the server remembers 1,000 (page-views.ts); each takes one click per show in either column. */
const CLICK_VIEWS = 900;

interface EndpointLoad {
  requests: number;
  errors: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of this process (server and load generator) per request: the figure a busy machine changes least. */
  cpuUsPerRequest: number;
  /** 1-minute load average at the end. */
  loadAverage: number;
}

interface PageBench {
  concurrency: number;
  seconds: number;
  endpoints: Record<string, EndpointLoad>;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** One request; the body of the answer is kept only when `keepBody` (the load itself discards it, as a browser's parser would consume it). */
function send(port: number, agent: http.Agent, { method, path: urlPath, body }: Request, keepBody = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // as a browser sends them: it accepts gzip, and its POSTs carry JSON and the page's origin
    const headers = method === 'POST' ? { 'content-type': 'application/json', origin: `http://127.0.0.1:${port}`, 'accept-encoding': 'gzip, deflate' } : { 'accept-encoding': 'gzip, deflate' };
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      if (keepBody) res.on('data', (chunk: Buffer) => chunks.push(chunk));
      else res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Closed-loop load: `concurrency` workers, each sending its next request when the last one answered, until `seconds` pass or the requests run out. */
async function closedLoop(port: number, next: Requests, seconds: number, concurrency: number): Promise<EndpointLoad> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const once = async (request: Request) => {
    const start = performance.now();
    try {
      const { status } = await send(port, agent, request);
      if (status !== 200) errors++;
    } catch {
      errors++;
    }
    latencies.push(performance.now() - start);
  };
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let request = next(); request !== null && performance.now() < deadline; request = next()) await once(request);
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    requestsPerSec: round1(latencies.length / elapsed),
    p50Ms: round1(percentile(latencies, 0.5)),
    p99Ms: round1(percentile(latencies, 0.99)),
    cpuUsPerRequest: Math.round((cpu.user + cpu.system) / Math.max(1, latencies.length)),
    loadAverage: round1(os.loadavg()[0]),
  };
}

/** Clicks on every show of `views` fresh page views (each recorded once): made before the clock starts. */
async function clickRequests(port: number, views: number): Promise<Requests> {
  const agent = new http.Agent({ keepAlive: true });
  const clicks: Request[] = [];
  try {
    for (let v = 0; v < views; v++) {
      const page = JSON.parse((await send(port, agent, { method: 'POST', path: '/api/views', body: '{}' }, true)).body) as PageData;
      if (page.pageView === null || page.token === null) throw new Error(`the page has no recommendations to click (state ${page.state})`);
      for (const column of page.columns) {
        for (const show of column.shows) clicks.push({ method: 'POST', path: '/api/click', body: JSON.stringify({ pageView: page.pageView, token: page.token, side: column.side, item: show.id }) });
      }
    }
  } finally {
    agent.destroy();
  }
  let i = 0;
  return () => clicks[i++] ?? null;
}

/** Serve `profile_0` of a trained participant and load each endpoint for `seconds`. */
export async function benchPage(participant: { config: Config; ws: Workspace; catalog: Catalog }, seconds: number, log: (line: string) => void): Promise<PageBench> {
  const app = buildApp({ config: participant.config, workspace: participant.ws, catalog: participant.catalog, profile: 'profile_0' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const endpoints: Record<string, EndpointLoad> = {};
  try {
    for (const [name, requests] of routes(port)) {
      const load = await closedLoop(port, await requests(), seconds, CONCURRENCY);
      endpoints[name] = load;
      log(`page ${name}: ${load.requestsPerSec} requests/s = ${round1(load.requestsPerSec / TARGET_REQUESTS_PER_SEC)}x the ${TARGET_REQUESTS_PER_SEC}/s target, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms = ${round1(load.p99Ms / TARGET_P99_MS)}x the ${TARGET_P99_MS} ms target, ${load.cpuUsPerRequest} µs CPU a request (${CONCURRENCY} concurrent, ${load.errors} errors, load average ${load.loadAverage})`);
    }
  } finally {
    await app.close();
  }
  return { concurrency: CONCURRENCY, seconds, endpoints };
}
