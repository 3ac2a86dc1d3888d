import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { buildApp } from '../participant/server/app';
import type { Catalog } from '../shared/catalog';
import type { Config } from '../shared/config';
import type { Workspace } from '../shared/workspace';
import { percentile } from './load';

/**
 * Requests per second and p50/p99 latency of the participant page (`buildApp`,
 * real HTTP over a keep-alive agent), each endpoint under a closed-loop load, as
 * ratios to issue 19's targets (1,000 requests/s, p99 20 ms), with the CPU time per
 * request and the load average (on a shared machine the wall-clock figures move
 * with the load; the CPU time much less).
 */

const CONCURRENCY = 16;
/** Issue 19's targets for every route: the anchors of the page figures. */
const TARGET_REQUESTS_PER_SEC = 1000;
const TARGET_P99_MS = 20;
const ENDPOINTS = [
  ['GET /api/status', 'GET', '/api/status'],
  ['POST /api/views', 'POST', '/api/views'],
  ['GET /', 'GET', '/'],
] as const;

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

/** Closed-loop load: `concurrency` workers, each sending its next request when the last one answered. */
async function closedLoop(port: number, method: 'GET' | 'POST', urlPath: string, seconds: number, concurrency: number): Promise<EndpointLoad> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const once = () =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      const headers = method === 'POST' ? { 'content-type': 'application/json', origin: `http://127.0.0.1:${port}` } : {};
      const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) errors++;
          latencies.push(performance.now() - start);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(method === 'POST' ? '{}' : undefined);
    });
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) await once();
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

/** Serve `profile_0` of a trained participant and load each endpoint for `seconds`. */
export async function benchPage(participant: { config: Config; ws: Workspace; catalog: Catalog }, seconds: number, log: (line: string) => void): Promise<PageBench> {
  const app = buildApp({ config: participant.config, workspace: participant.ws, catalog: participant.catalog, profile: 'profile_0' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const endpoints: Record<string, EndpointLoad> = {};
  try {
    for (const [name, method, url] of ENDPOINTS) {
      const load = await closedLoop(port, method, url, seconds, CONCURRENCY);
      endpoints[name] = load;
      log(`page ${name}: ${load.requestsPerSec} requests/s = ${round1(load.requestsPerSec / TARGET_REQUESTS_PER_SEC)}x the ${TARGET_REQUESTS_PER_SEC}/s target, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms = ${round1(load.p99Ms / TARGET_P99_MS)}x the ${TARGET_P99_MS} ms target, ${load.cpuUsPerRequest} µs CPU a request (${CONCURRENCY} concurrent, ${load.errors} errors, load average ${load.loadAverage})`);
    }
  } finally {
    await app.close();
  }
  return { concurrency: CONCURRENCY, seconds, endpoints };
}
