import type { Arm } from '../../shared/clicks';

/**
 * Page views this server has issued, kept in memory: which arm is on which
 * side, the lists shown, the page's token, and which (arm, item) pairs were
 * already clicked, so each show counts once per list per page view. Bounded:
 * the oldest views are forgotten first (a click on a forgotten view gets
 * ERR_PAGE_VIEW_EXPIRED and the page reloads).
 */
interface PageView {
  id: string;
  token: string;
  left: Arm;
  lists: Record<Arm, readonly number[]>;
  clicked: Set<string>;
}

/** Page views remembered; a user reloading once a second for a quarter-hour stays within it. */
const MAX_PAGE_VIEWS = 1000;

export class PageViews {
  private readonly views = new Map<string, PageView>();
  private readonly capacity: number;

  constructor(capacity: number = MAX_PAGE_VIEWS) {
    this.capacity = capacity;
  }

  add(view: Omit<PageView, 'clicked'>): void {
    this.views.set(view.id, { ...view, clicked: new Set() });
    while (this.views.size > this.capacity) {
      const oldest = this.views.keys().next().value as string;
      this.views.delete(oldest);
    }
  }

  get(id: string): PageView | undefined {
    return this.views.get(id);
  }

  /** Mark (arm, item) clicked on this view; false when it already was. Synchronous, so concurrent requests cannot both win. */
  claim(view: PageView, arm: Arm, item: number): boolean {
    const key = `${arm}/${item}`;
    if (view.clicked.has(key)) return false;
    view.clicked.add(key);
    return true;
  }

  /** Undo a claim whose row could not be written, so the user may retry. */
  release(view: PageView, arm: Arm, item: number): void {
    view.clicked.delete(`${arm}/${item}`);
  }
}
