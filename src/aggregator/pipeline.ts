/**
 * Run `task` over `items` with at most `depth` calls in flight, yielding the
 * outcomes in input order. Overlaps file reads (the aggregator's rounds are
 * I/O-bound) while bounding memory to `depth` results at a time. A rejected call
 * is yielded as `{ ok: false, error }`, so one failure never stops the others.
 */
type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export async function* inOrder<T, R>(items: readonly T[], task: (item: T) => Promise<R>, depth: number): AsyncGenerator<[T, Outcome<R>]> {
  if (!(Number.isInteger(depth) && depth >= 1)) throw new RangeError(`depth must be a positive integer, got ${depth}`);
  const started: Promise<Outcome<R>>[] = [];
  const start = (i: number) => {
    started[i] = task(items[i]).then(
      (value): Outcome<R> => ({ ok: true, value }),
      (error: unknown): Outcome<R> => ({ ok: false, error }),
    );
  };
  for (let i = 0; i < Math.min(depth, items.length); i++) start(i);
  for (let i = 0; i < items.length; i++) {
    const outcome = await started[i];
    delete started[i];
    if (i + depth < items.length) start(i + depth);
    yield [items[i], outcome];
  }
}
