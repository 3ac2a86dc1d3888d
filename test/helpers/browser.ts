import { chromium, type Browser, type Page } from 'playwright-core';
import { unavailable } from './data';

/** Debian's Chromium drives the real-browser tests (playwright-core never downloads one). */
const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** For `describe.skipIf`: true, with one line saying so, when Chromium is not installed. */
export const noChromium = (): boolean => unavailable(CHROMIUM);

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
}

export interface PageWatch {
  /** Every problem so far, and the page's icon checked: a page without a loadable icon makes the browser ask for /favicon.ico, which 404s. */
  problems(): Promise<string[]>;
}

/**
 * Watch `page` for everything that goes wrong: uncaught errors, console errors,
 * failed or 4xx/5xx requests, except requests to URLs matching `expected` (a
 * test that makes a poster fail on purpose).
 */
export function watchPage(page: Page, expected?: RegExp): PageWatch {
  const problems: string[] = [];
  const isExpected = (url: string) => expected?.test(url) ?? false;
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !isExpected(msg.location().url) && !(expected && /Failed to load resource/.test(msg.text()))) {
      problems.push(`console error: ${msg.text()} (${msg.location().url})`);
    }
  });
  page.on('requestfailed', (request) => {
    if (!isExpected(request.url())) problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !isExpected(response.url())) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  return {
    async problems() {
      const icon = await page.evaluate(() => document.querySelector('link[rel~="icon"]')?.getAttribute('href') ?? null);
      if (icon === null) return [...problems, 'no <link rel="icon">: the browser asks for /favicon.ico'];
      const answer = await page.request.get(new URL(icon, page.url()).href);
      return answer.ok() && /^image\//.test(answer.headers()['content-type'] ?? '') ? problems : [...problems, `icon ${icon}: HTTP ${answer.status()}`];
    },
  };
}
