import { readRegularFile } from './atomic';

/**
 * The click-experiment log of one profile: `<private>/profile_<n>/clicks.jsonl`,
 * kept on the participant's machine (0600) in every mode; only per-arm counts
 * leave (`click-counts.ts` in plain mode, the community round with secure
 * aggregation). One JSON object per line, two kinds of rows:
 *
 * ```json
 * {"v":2,"type":"view","pageView":"k3J9…","left":"global","shown":{"local":5,"global":5},"versions":{"global":4,"localBase":4}}
 * {"v":2,"type":"click","pageView":"k3J9…","side":"right","arm":"local","rank":2}
 * ```
 * A view row is written when a page's two lists are served (which arm is on
 * the left, how many shows each column held, the model versions behind them);
 * a click row names the page view, the column, its arm and the 1-based rank
 * of the show in that column.
 *
 * Rows carry no show ids, no times and no titles (issue 20): the experiment
 * needs only which list got the click. Version-1 rows held both lists' item ids
 * and timestamps; the writer rewrites such a log to version 2 (`upgradeLegacyRow`).
 *
 * The log is appended to, not rewritten (see `src/participant/clicks.ts`), so
 * a reader ignores a final line without `\n`: a sync caught mid-append.
 */
export const CLICK_LOG_VERSION = 2;
const LEGACY_CLICK_LOG_VERSION = 1;

export type Arm = 'local' | 'global';
export type Side = 'left' | 'right';
export const ARMS: readonly Arm[] = ['local', 'global'];

export function otherArm(arm: Arm): Arm {
  return arm === 'local' ? 'global' : 'local';
}

/** The arm shown in column `side` of a page view whose left column is `left`. */
export function armOnSide(left: Arm, side: Side): Arm {
  return side === 'left' ? left : otherArm(left);
}

export interface PageViewRow {
  v: typeof CLICK_LOG_VERSION;
  type: 'view';
  pageView: string;
  /** Arm shown in the left column; the other is on the right. */
  left: Arm;
  /** How many shows each arm's column held. */
  shown: Record<Arm, number>;
  /** Global_V version of the global list; Global_V version the local model was trained from. */
  versions: { global: number; localBase: number };
}

export interface ClickRow {
  v: typeof CLICK_LOG_VERSION;
  type: 'click';
  pageView: string;
  side: Side;
  arm: Arm;
  /** 1-based position in its column. */
  rank: number;
}

export type ClickLogRow = PageViewRow | ClickRow;

/** Longest list a view row may carry (RECS_PER_COLUMN allows at most 50). */
const MAX_LIST_LENGTH = 50;
const PAGE_VIEW_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;
const MAX_ITEM_ID = 10_000_000;

function isItemList(value: unknown): value is number[] {
  return Array.isArray(value) && value.length <= MAX_LIST_LENGTH && value.every((v) => Number.isInteger(v) && v >= 0 && v < MAX_ITEM_ID);
}

function isListLength(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_LIST_LENGTH;
}

function isRank(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_LIST_LENGTH;
}

function isVersion(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isArm(value: unknown): value is Arm {
  return value === 'local' || value === 'global';
}

function isSide(value: unknown): value is Side {
  return value === 'left' || value === 'right';
}

function versionsOf(value: unknown): PageViewRow['versions'] | null {
  const versions = value as Record<string, unknown> | null;
  if (typeof versions !== 'object' || versions === null || !isVersion(versions.global) || !isVersion(versions.localBase)) return null;
  return { global: versions.global, localBase: versions.localBase };
}

/** Validate one parsed line (untrusted when it comes from another datasite); null when it is not a version-2 row. */
export function parseClickLogRow(value: unknown): ClickLogRow | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Record<string, unknown>;
  if (r.v !== CLICK_LOG_VERSION || typeof r.pageView !== 'string' || !PAGE_VIEW_ID_RE.test(r.pageView)) return null;
  if (r.type === 'view') {
    const shown = r.shown as Record<string, unknown> | null;
    const versions = versionsOf(r.versions);
    if (!isArm(r.left) || typeof shown !== 'object' || shown === null || !isListLength(shown.local) || !isListLength(shown.global) || versions === null) return null;
    return { v: CLICK_LOG_VERSION, type: 'view', pageView: r.pageView, left: r.left, shown: { local: shown.local, global: shown.global }, versions };
  }
  if (r.type === 'click') {
    if (!isSide(r.side) || !isArm(r.arm) || !isRank(r.rank)) return null;
    return { v: CLICK_LOG_VERSION, type: 'click', pageView: r.pageView, side: r.side, arm: r.arm, rank: r.rank };
  }
  return null;
}

/** A version-1 row (item ids and times) as the version-2 row it becomes; null when it is not one. */
export function upgradeLegacyRow(value: unknown): ClickLogRow | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Record<string, unknown>;
  if (r.v !== LEGACY_CLICK_LOG_VERSION) return null;
  if (r.type === 'view' && isItemList(r.local) && isItemList(r.global)) {
    return parseClickLogRow({ v: CLICK_LOG_VERSION, type: 'view', pageView: r.pageView, left: r.left, shown: { local: r.local.length, global: r.global.length }, versions: r.versions });
  }
  if (r.type === 'click') return parseClickLogRow({ v: CLICK_LOG_VERSION, type: 'click', pageView: r.pageView, side: r.side, arm: r.arm, rank: r.rank });
  return null;
}

export interface ParsedClickLog {
  rows: ClickLogRow[];
  /** Complete lines that are not valid rows (junk, other versions). */
  rejected: number;
  /** True when the text ends in an unfinished line (ignored). */
  torn: boolean;
}

/** Parse the log's text: complete lines only; junk lines are counted, not fatal. */
export function parseClickLog(text: string): ParsedClickLog {
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  const rows: ClickLogRow[] = [];
  let rejected = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      rejected++;
      continue;
    }
    const row = parseClickLogRow(parsed);
    if (row) rows.push(row);
    else rejected++;
  }
  return { rows, rejected, torn: tail !== '' };
}

/** A click log is capped well below SyftBox's 10 MB file limit (~30,000 page views). */
export const MAX_CLICK_LOG_BYTES = 8 * 1024 * 1024; // 8 MiB

/** Read and parse a click log; null when it does not exist. Throws ERR_FILE_TOO_LARGE / ERR_FILE_NOT_REGULAR. */
export async function readClickLog(file: string, maxBytes: number = MAX_CLICK_LOG_BYTES): Promise<ParsedClickLog | null> {
  const bytes = await readRegularFile(file, { maxBytes });
  return bytes === null ? null : parseClickLog(bytes.toString('utf8'));
}
