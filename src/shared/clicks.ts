import { readRegularFile } from './atomic';

/**
 * The click-experiment log of one profile: `app_data/<app>/profile_<n>/clicks.jsonl`
 * in the participant's own datasite (readable by the aggregator only, through the
 * app folder's `syft.pub.yaml`). One JSON object per line, two kinds of rows:
 *
 * ```json
 * {"v":1,"type":"view","at":"2026-11-21T16:00:00.000Z","pageView":"k3J9…","left":"global","local":[12,7,99],"global":[7,301,5],"versions":{"global":4,"localBase":4}}
 * {"v":1,"type":"click","at":"2026-11-21T16:00:09.000Z","pageView":"k3J9…","side":"right","arm":"local","item":7,"rank":2}
 * ```
 * A view row is written when a page's two lists are served (item ids in rank
 * order per arm, which arm is on the left, the model versions behind them); a
 * click row names the page view, the column, its arm, the catalogue item id and
 * its 1-based rank in that column. Rows carry item ids, never titles.
 *
 * The log is appended to, not rewritten (see `src/participant/clicks.ts`), so
 * a reader ignores a final line without `\n`: a sync caught mid-append.
 */
export const CLICK_LOG_VERSION = 1;

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
  at: string;
  pageView: string;
  /** Arm shown in the left column; the other is on the right. */
  left: Arm;
  /** Catalogue item ids per arm, in rank order. */
  local: number[];
  global: number[];
  /** Global_V version of the global list; Global_V version the local model was trained from. */
  versions: { global: number; localBase: number };
}

export interface ClickRow {
  v: typeof CLICK_LOG_VERSION;
  type: 'click';
  at: string;
  pageView: string;
  side: Side;
  arm: Arm;
  item: number;
  /** 1-based position in its column. */
  rank: number;
}

export type ClickLogRow = PageViewRow | ClickRow;

/** Longest list a view row may carry (RECS_PER_COLUMN allows at most 50). */
const MAX_LIST_LENGTH = 50;
const PAGE_VIEW_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;
const MAX_ITEM_ID = 10_000_000;

function isItemId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) < MAX_ITEM_ID;
}

function isItemList(value: unknown): value is number[] {
  return Array.isArray(value) && value.length <= MAX_LIST_LENGTH && value.every(isItemId);
}

function isVersion(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isArm(value: unknown): value is Arm {
  return value === 'local' || value === 'global';
}

/** Validate one parsed line (untrusted when it comes from another datasite); null when it is not a row. */
export function parseClickLogRow(value: unknown): ClickLogRow | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Record<string, unknown>;
  if (r.v !== CLICK_LOG_VERSION || typeof r.pageView !== 'string' || !PAGE_VIEW_ID_RE.test(r.pageView)) return null;
  if (typeof r.at !== 'string' || Number.isNaN(Date.parse(r.at))) return null;
  if (r.type === 'view') {
    const versions = r.versions as Record<string, unknown> | null;
    if (!isArm(r.left) || !isItemList(r.local) || !isItemList(r.global)) return null;
    if (typeof versions !== 'object' || versions === null || !isVersion(versions.global) || !isVersion(versions.localBase)) return null;
    return {
      v: CLICK_LOG_VERSION,
      type: 'view',
      at: r.at,
      pageView: r.pageView,
      left: r.left,
      local: r.local,
      global: r.global,
      versions: { global: versions.global, localBase: versions.localBase },
    };
  }
  if (r.type === 'click') {
    if ((r.side !== 'left' && r.side !== 'right') || !isArm(r.arm) || !isItemId(r.item)) return null;
    if (!Number.isInteger(r.rank) || (r.rank as number) < 1 || (r.rank as number) > MAX_LIST_LENGTH) return null;
    return { v: CLICK_LOG_VERSION, type: 'click', at: r.at, pageView: r.pageView, side: r.side, arm: r.arm, item: r.item, rank: r.rank as number };
  }
  return null;
}

interface ParsedClickLog {
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
