import { ARMS, armOnSide, CLICK_LOG_VERSION, type Arm, type ClickRow, type PageViewRow, type Side } from '../shared/clicks';
import type { Random } from '../shared/random';

/**
 * The choice model: how a simulated participant clicks on the two-column page
 * (a position-based examination model), and what its hidden tastes say about a
 * list (its value, the true preference, NDCG). Pure. The formulas are in
 * docs/simulate/model.md.
 */

export interface ChoiceParams {
  /** θ_c: how much each column is looked at. */
  columnBias: Record<Side, number>;
  /** η: examination falls as rank^(−η). */
  positionDecay: number;
}

export const DEFAULT_CHOICE: Readonly<ChoiceParams> = Object.freeze({ columnBias: Object.freeze({ left: 1, right: 0.8 }), positionDecay: 1 });

const SIDES: readonly Side[] = ['left', 'right'];
const PAGE_VIEW_ID_LENGTH = 16;
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** θ_c · r^(−η): the probability that the card at column `side`, 1-based `rank`, is looked at. */
export function examination(side: Side, rank: number, params: ChoiceParams): number {
  return params.columnBias[side] * rank ** -params.positionDecay;
}

/** A page-view id of the click log's alphabet, from the seeded Random (the page draws it from the OS). */
export function pageViewId(random: Random): string {
  let id = '';
  for (let i = 0; i < PAGE_VIEW_ID_LENGTH; i++) id += ID_ALPHABET[random.int(ID_ALPHABET.length)];
  return id;
}

interface PageViewInput {
  pageView: string;
  lists: Record<Arm, readonly number[]>;
  versions: PageViewRow['versions'];
  /** u_pj of a catalogue item. */
  utility: (item: number) => number;
  /** Shows not clicked again; the shows clicked here are added. */
  chosen: Set<number>;
  random: Random;
  params?: ChoiceParams;
}

interface SimulatedPageView {
  view: PageViewRow;
  clicks: ClickRow[];
  /** The shows clicked, in click order (the rows name only their ranks). */
  clickedItems: number[];
}

/** One page view and its clicks, as the rows the page writes to the click log. */
export function simulatePageView(input: PageViewInput): SimulatedPageView {
  const params = input.params ?? DEFAULT_CHOICE;
  const { random, lists, chosen } = input;
  const left: Arm = random.next() < 0.5 ? 'local' : 'global';
  const view: PageViewRow = {
    v: CLICK_LOG_VERSION,
    type: 'view',
    pageView: input.pageView,
    left,
    shown: { local: lists.local.length, global: lists.global.length },
    versions: { ...input.versions },
  };
  const clicks: ClickRow[] = [];
  const clickedItems: number[] = [];
  const depth = Math.max(...ARMS.map((arm) => lists[arm].length));
  for (let rank = 1; rank <= depth; rank++) {
    for (const side of SIDES) {
      const arm = armOnSide(left, side);
      const item = lists[arm][rank - 1];
      if (item === undefined || chosen.has(item)) continue;
      if (random.next() < examination(side, rank, params) * input.utility(item)) {
        chosen.add(item);
        clicks.push({ v: CLICK_LOG_VERSION, type: 'click', pageView: input.pageView, side, arm, rank });
        clickedItems.push(item);
      }
    }
  }
  return { view, clicks, clickedItems };
}

/** Σ_r r^(−η) u(list_r): the list's expected clicks in one column, up to the column's θ. */
export function listValue(list: readonly number[], utility: (item: number) => number, params: ChoiceParams = DEFAULT_CHOICE): number {
  let value = 0;
  list.forEach((item, i) => {
    value += (i + 1) ** -params.positionDecay * utility(item);
  });
  return value;
}

/** Which list the hidden tastes favour: the higher value, or null when they are equal. */
export function truePreference(lists: Record<Arm, readonly number[]>, utility: (item: number) => number, params: ChoiceParams = DEFAULT_CHOICE): Arm | null {
  const local = listValue(lists.local, utility, params);
  const global = listValue(lists.global, utility, params);
  return local === global ? null : global > local ? 'global' : 'local';
}

/** Σ_r gain(list_r) / log2(r + 1). */
function dcg(list: readonly number[], gain: (item: number) => number): number {
  let sum = 0;
  list.forEach((item, i) => {
    sum += gain(item) / Math.log2(i + 2);
  });
  return sum;
}

/** NDCG of `list` with graded relevance u against `ideal` (the N best unseen shows by u, best first); 0 when the ideal has no gain. */
export function gradedNdcg(list: readonly number[], ideal: readonly number[], utility: (item: number) => number): number {
  const best = dcg(ideal, utility);
  return best > 0 ? dcg(list, utility) / best : 0;
}
