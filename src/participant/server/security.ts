import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../shared/errors';

/**
 * What protects the experiment page, which listens on the user's machine:
 * - every response carries a strict Content-Security-Policy (scripts, styles and
 *   connections from the page's own origin only; posters may come from https:),
 *   no framing, no MIME sniffing and no Referer;
 * - the Host header must be an IP literal, `localhost` or WEB_HOST, so a DNS
 *   name an attacker controls cannot be rebound to 127.0.0.1 to read the API;
 * - state-changing requests must come from the page's own origin
 *   (`Sec-Fetch-Site`, and `Origin` whose scheme, host and port are
 *   `http://` + `Host`) and carry the per-page
 *   token issued with the page view (checked by the click route).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy':
    "default-src 'self'; img-src 'self' https: data:; script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
});

/** The host name of a Host header value (`[::1]:8081` -> `::1`, `localhost:80` -> `localhost`). */
function hostName(host: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracketed) return bracketed[1];
  const colon = host.lastIndexOf(':');
  return (colon >= 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host).toLowerCase();
}

/** True when `host` (a bind address or host name) is this machine only: localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return name === 'localhost' || name === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** True for Host values that DNS rebinding cannot produce. */
function isAllowedHost(host: string | undefined, webHost: string): boolean {
  if (!host) return false;
  const name = hostName(host);
  return name === 'localhost' || isIP(name) !== 0 || name === webHost.toLowerCase();
}

/**
 * Throw ERR_CROSS_ORIGIN unless the request comes from the page itself.
 * Browsers send `Sec-Fetch-Site` and `Origin` on every POST; clients that send
 * neither (curl, tests) are not browsers a web page could drive, and still need
 * the page token.
 */
export function assertSameOrigin(request: FastifyRequest): void {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') {
    throw new AppError('ERR_CROSS_ORIGIN', `request refused: Sec-Fetch-Site is ${JSON.stringify(site)}, not same-origin`);
  }
  const origin = request.headers.origin;
  if (origin === undefined) return;
  // Scheme, host and port: the page is served over plain HTTP only, so an https:// Origin is another origin.
  const page = urlOrigin(`${PAGE_SCHEME}//${request.headers.host ?? ''}`);
  if (page === null || urlOrigin(origin) !== page) {
    throw new AppError('ERR_CROSS_ORIGIN', `request refused: Origin ${JSON.stringify(origin)} is not this page (${PAGE_SCHEME}//${request.headers.host ?? 'no Host'})`);
  }
}

const PAGE_SCHEME = 'http:';

/** `scheme://host[:port]` of a URL with the scheme's default port dropped (`http://localhost:80` -> `http://localhost`); null if not a URL. */
function urlOrigin(url: string): string | null {
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

/** Constant-time comparison of a presented token with the issued one. */
export function tokensEqual(presented: string, issued: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(issued);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** onRequest hook: security headers on every response, then the Host check. */
export function guardRequest(webHost: string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.headers(SECURITY_HEADERS);
    if (!isAllowedHost(request.headers.host, webHost)) {
      throw new AppError('ERR_CROSS_ORIGIN', `request refused: Host ${JSON.stringify(request.headers.host ?? '')} is not this machine; open the page at http://127.0.0.1`);
    }
  };
}
