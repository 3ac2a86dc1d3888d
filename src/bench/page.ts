import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { buildApp } from '../participant/server/app';
import type { Catalog } from '../shared/catalog';
import type { Config } from '../shared/config';
import type { Workspace } from '../shared/workspace';
import { percentile } from './load';

/**
 * Requests per second and p50/p99 latency of the participant page (`buildApp`,
 * real HTTP over a keep-alive agent), each endpoint under a closed-loop load.
 */

const CONCURRENCY = 16;
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
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) await once();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, errors, requestsPerSec: round1(latencies.length / elapsed), p50Ms: round1(percentile(latencies, 0.5)), p99Ms: round1(percentile(latencies, 0.99)) };
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
      log(`page ${name}: ${load.requestsPerSec} requests/s, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms (${CONCURRENCY} concurrent, ${load.errors} errors)`);
    }
  } finally {
    await app.close();
  }
  return { concurrency: CONCURRENCY, seconds, endpoints };
}
