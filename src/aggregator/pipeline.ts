/**
 * Run `task` over `items` with at most `depth` calls in flight, yielding the
 * outcomes in input order. Overlaps file reads (the aggregator's rounds are
 * I/O-bound) while bounding memory to `depth` results at a time. A rejected call
 * is yielded as `{ ok: false, error }`, so one failure never stops the others.
 * `items` may be an async stream (a round reads deltas while it still discovers
 * datasites): an item is pulled only when a call may start.
 */
type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export async function* inOrder<T, R>(items: Iterable<T> | AsyncIterable<T>, task: (item: T) => Promise<R>, depth: number): AsyncGenerator<[T, Outcome<R>]> {
  if (!(Number.isInteger(depth) && depth >= 1)) throw new RangeError(`depth must be a positive integer, got ${depth}`);
  const source = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]();
  const started: { item: T; outcome: Promise<Outcome<R>> }[] = [];
  let exhausted = false;
  const fill = async () => {
    while (!exhausted && started.length < depth) {
      const next = await source.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const item = next.value;
      const outcome = task(item).then(
        (value): Outcome<R> => ({ ok: true, value }),
        (error: unknown): Outcome<R> => ({ ok: false, error }),
      );
      started.push({ item, outcome });
    }
  };
  await fill();
  while (started.length > 0) {
    const head = started.shift()!;
    const outcome = await head.outcome;
    await fill();
    yield [head.item, outcome];
  }
}
