import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { readClickLog } from '../shared/clicks';
import type { PageData } from '../participant/server/routes';

/**
 * A small load generator for the click-experiment pages, over real sockets with
 * keep-alive agents. For `durationMs`, each of `clientsPerTarget` clients per
 * page loops like a user who clicks everything: ask for a page view
 * (`POST /api/views`), then click every show of both columns, one
 * `POST /api/click` at a time. Afterwards each page's click log is read back: a
 * click answered `recorded` whose row is not in the log is lost.
 *
 * ```ts
 * const report = await runClickLoad({ targets: [{ url: 'http://127.0.0.1:8081', clickLog }], durationMs: 5000 });
 * // { requests: 41230, requestsPerSecond: 8246, latencyMs: { p50: 3.1, p99: 12.4, max: 40.2 }, errors: 0, lost: 0, ... }
 * ```
 */
export interface LoadTarget {
  /** Base URL of one page, e.g. `http://127.0.0.1:8081`. */
  url: string;
  /** That page's click log (`clickLogFile(ws, profile)`), read after the run. */
  clickLog: string;
}

interface LoadOptions {
  targets: readonly LoadTarget[];
  durationMs: number;
  /** Go on past `durationMs` until this many clicks were recorded (or a request failed): a slow machine still gets a real load. */
  minClicks?: number;
  /** Clients per page, each with one request in flight at a time. */
  clientsPerTarget?: number;
  /** A request without an answer after this long counts as an error. */
  requestTimeoutMs?: number;
}

interface LoadReport {
  /** Wall time from the first request to the last answer. */
  durationMs: number;
  /** Requests answered or failed (page views and clicks). */
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Requests without an answer, or answered with something other than 200 and the expected body. */
  errors: number;
  /** The first few errors, for a human. */
  errorSamples: string[];
  pageViews: number;
  /** Clicks answered `recorded`. */
  clicksRecorded: number;
  /** Of those, clicks whose row is in the click log. */
  rowsFound: number;
  /** Clicks answered `recorded` without a row in the log (must be 0). */
  lost: number;
  /** Click rows of this run's page views that no `recorded` answer accounts for (must be 0). */
  unexpectedRows: number;
}

const DEFAULT_CLIENTS_PER_TARGET = 4;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const ERROR_SAMPLES = 5;

interface Answer {
  status: number;
  body: unknown;
}

/** POST a JSON body as the page's own script would (same origin), over `agent`. */
function postJson(agent: http.Agent, base: URL, path: string, body: unknown, timeoutMs: number): Promise<Answer> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'content-length': payload.length, origin: base.origin, 'sec-fetch-site': 'same-origin' },
        timeout: timeoutMs,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) });
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

const clickKey = (pageView: string, side: string, rank: number) => `${pageView}/${side}/${rank}`;

/** Run the load and check the click logs; see the module comment. */
export async function runClickLoad(options: LoadOptions): Promise<LoadReport> {
  const clients = options.clientsPerTarget ?? DEFAULT_CLIENTS_PER_TARGET;
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  let latencies = new Float64Array(1024);
  let requests = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  const pageViews = options.targets.map(() => new Set<string>());
  const recorded = options.targets.map(() => new Set<string>());

  const timed = async (agent: http.Agent, base: URL, path: string, body: unknown): Promise<Answer> => {
    const t0 = performance.now();
    try {
      return await postJson(agent, base, path, body, timeoutMs);
    } catch (err) {
      return { status: 0, body: String(err) };
    } finally {
      if (requests === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[requests++] = performance.now() - t0;
    }
  };
  const fail = (what: string, answer: Answer) => {
    errors++;
    if (errorSamples.length < ERROR_SAMPLES) errorSamples.push(`${what}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
  };

  const started = performance.now();
  const deadline = started + options.durationMs;
  const minClicks = options.minClicks ?? 0;
  let clicks = 0;
  const going = () => performance.now() < deadline || (errors === 0 && clicks < minClicks);
  const client = async (target: number, agent: http.Agent): Promise<void> => {
    const base = new URL(options.targets[target].url);
    while (going()) {
      const view = await timed(agent, base, '/api/views', {});
      const page = view.body as PageData;
      if (view.status !== 200 || page.state !== 'experiment' || page.pageView === null) {
        // a page not in the experiment state would answer the same forever
        fail(`${base.origin} /api/views`, view);
        return;
      }
      pageViews[target].add(page.pageView);
      for (const column of page.columns) {
        for (const show of column.shows) {
          if (!going()) return;
          const click = await timed(agent, base, '/api/click', { pageView: page.pageView, token: page.token, side: column.side, item: show.id });
          if (click.status === 200 && (click.body as { status?: string }).status === 'recorded') {
            recorded[target].add(clickKey(page.pageView, column.side, show.rank));
            clicks++;
          } else fail(`${base.origin} /api/click`, click);
        }
      }
    }
  };

  const agents = options.targets.map(() => new http.Agent({ keepAlive: true, maxSockets: clients }));
  try {
    await Promise.all(options.targets.flatMap((_, target) => Array.from({ length: clients }, () => client(target, agents[target]))));
  } finally {
    for (const agent of agents) agent.destroy();
  }
  const durationMs = performance.now() - started;

  let rowsFound = 0;
  let unexpectedRows = 0;
  for (const [target, { clickLog }] of options.targets.entries()) {
    const found = new Set<string>();
    for (const row of (await readClickLog(clickLog))?.rows ?? []) {
      if (row.type !== 'click' || !pageViews[target].has(row.pageView)) continue;
      const key = clickKey(row.pageView, row.side, row.rank);
      // a second row for one click is as wrong as a row without a click
      if (recorded[target].has(key) && !found.has(key)) found.add(key);
      else unexpectedRows++;
    }
    rowsFound += found.size;
  }
  const clicksRecorded = recorded.reduce((sum, set) => sum + set.size, 0);
  const sorted = latencies.slice(0, requests).sort();
  return {
    durationMs,
    requests,
    requestsPerSecond: requests / (durationMs / 1000),
    latencyMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: percentile(sorted, 1) },
    errors,
    errorSamples,
    pageViews: pageViews.reduce((sum, set) => sum + set.size, 0),
    clicksRecorded,
    rowsFound,
    lost: clicksRecorded - rowsFound,
    unexpectedRows,
  };
}
