import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMatcher, loadCatalog, matchEvents, normalizeTitle, type Catalog, type Matcher, type ShowMatch } from '../../src/shared/catalog';
import { PROJECT_ROOT } from '../../src/shared/config';
import { readHistory } from '../../src/shared/history';

/**
 * Precision and recall of title matching on a gold set (test/fixtures/matching-gold.json):
 * every show of the CC0 Danish export in ../shared/data, labelled by hand, and
 * hand-built exports of hard cases from the shipped catalogue (works sharing a
 * title, remakes, a series and a film of one name, titles with colons, translated
 * titles). A show counts as correct when matched to its labelled work, wrong when
 * matched to anything else (including a show whose work is not in the catalogue),
 * missed when left unmatched although its work is in the catalogue.
 * precision = correct / (correct + wrong); recall = correct / shows whose work is in the catalogue.
 *
 * The catalogue has no localized titles, so a show whose export title shares no
 * word with the catalogue's (Danish `Venner` for `Friends`) is out of reach of
 * any title matcher: recall is reported with and without those. The target
 * applies to both: to every show whose work is in the catalogue, as the issue
 * asks, and to the shows within reach, so that the out-of-reach ones cannot
 * hide a loss among the others. Precision counts every show.
 */

const MIN_PRECISION = 0.97;
const MIN_RECALL = 0.85;
const SHARED_DATA = path.resolve(PROJECT_ROOT, '..', 'shared', 'data');
const GOLD_FILE = path.join(PROJECT_ROOT, 'test', 'fixtures', 'matching-gold.json');
/** After every catalogue date: the hand-built rows of 2021-10 are in the past. */
const NOW = new Date('2022-01-01T00:00:00Z');

interface GoldShow {
  show: string;
  kind: 'series' | 'film';
  /** show_id of the work watched (several when the catalogue lists it more than once), null when not in the catalogue. */
  expect: string | string[] | null;
  note?: string;
}
interface Gold {
  exports: { file: string; shows: GoldShow[]; excluded: { show: string; kind: string; why: string }[] }[];
  cases: { name: string; category: string; rows: [string, string][]; shows: GoldShow[] }[];
}

interface Tally {
  correct: number;
  wrong: string[];
  missed: string[];
  /** Gold shows whose work is in the catalogue. */
  relevant: number;
  /** Of those, shows out of reach (no word in common with the catalogue title), and how many of them were matched. */
  outOfReach: number;
  outOfReachCorrect: number;
}

const gold: Gold = JSON.parse(readFileSync(GOLD_FILE, 'utf8'));
const keyOf = (s: { show: string; kind: string }) => `${s.kind}\u0000${s.show}`;
const emptyTally = (): Tally => ({ correct: 0, wrong: [], missed: [], relevant: 0, outOfReach: 0, outOfReachCorrect: 0 });
const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b);
const precision = (t: Tally) => ratio(t.correct, t.correct + t.wrong.length);
const recall = (t: Tally) => ratio(t.correct, t.relevant);
const recallInReach = (t: Tally) => ratio(t.correct - t.outOfReachCorrect, t.relevant - t.outOfReach);
/** Words of three letters or more. */
const wordsOf = (title: string) => new Set(normalizeTitle(title).split(' ').filter((w) => w.length >= 3));

/** Score the matches of one history against its labels; returns the extracted shows that have no label. */
function score(catalog: Catalog, labels: GoldShow[], excluded: { show: string; kind: string }[], shows: ShowMatch[], into: Tally): string[] {
  const byKey = new Map(shows.map((s) => [keyOf(s), s]));
  const idOf = new Map(catalog.items.map((i) => [i.showId, i.id]));
  const known = new Set([...labels, ...excluded].map(keyOf));
  for (const label of labels) {
    const expected = label.expect === null ? [] : [label.expect].flat();
    const item = byKey.get(keyOf(label))?.item ?? null;
    const ok = item !== null && expected.includes(catalog.items[item].showId);
    const words = wordsOf(label.show);
    const outOfReach = expected.length > 0 && expected.every((id) => ![...wordsOf(catalog.items[idOf.get(id)!].title)].some((w) => words.has(w)));
    const what = `${label.kind} "${label.show}" -> ${item === null ? `unmatched (${byKey.get(keyOf(label))?.reason ?? 'not extracted'})` : `${catalog.items[item].showId} ${catalog.items[item].title}`}, expected ${expected.join('|') || 'none'}${outOfReach ? ' (out of reach)' : ''}`;
    if (expected.length > 0) into.relevant++;
    if (outOfReach) into.outOfReach++;
    if (ok) {
      into.correct++;
      if (outOfReach) into.outOfReachCorrect++;
    } else if (item !== null) into.wrong.push(what);
    else if (expected.length > 0) into.missed.push(what);
  }
  return shows.filter((s) => !known.has(keyOf(s))).map((s) => `${s.kind} "${s.show}"`);
}

function summary(name: string, t: Tally): string {
  return (
    `matching gold, ${name}: precision ${precision(t).toFixed(3)} (${t.correct}/${t.correct + t.wrong.length}); ` +
    `recall ${recallInReach(t).toFixed(3)} (${t.correct - t.outOfReachCorrect}/${t.relevant - t.outOfReach}) within reach, ` +
    `${recall(t).toFixed(3)} (${t.correct}/${t.relevant}) counting the ${t.outOfReach} titles that share no word with the catalogue's`
  );
}

function assertTargets(name: string, t: Tally): void {
  const detail = `\nwrong:\n  ${t.wrong.join('\n  ')}\nmissed:\n  ${t.missed.join('\n  ')}`;
  expect(precision(t), `${name}: precision below ${MIN_PRECISION}${detail}`).toBeGreaterThanOrEqual(MIN_PRECISION);
  expect(recall(t), `${name}: recall below ${MIN_RECALL}${detail}`).toBeGreaterThanOrEqual(MIN_RECALL);
  expect(recallInReach(t), `${name}: recall within reach below ${MIN_RECALL}${detail}`).toBeGreaterThanOrEqual(MIN_RECALL);
}

let catalog: Catalog;
let matcher: Matcher;
let dir: string;
beforeAll(async () => {
  catalog = await loadCatalog();
  matcher = createMatcher(catalog);
  dir = await mkdtemp(path.join(os.tmpdir(), 'matching-gold-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('title matching against the gold set', () => {
  it('labels only show_ids of the shipped catalogue', () => {
    const ids = new Set(catalog.items.map((i) => i.showId));
    const labels = [...gold.exports.flatMap((e) => e.shows), ...gold.cases.flatMap((c) => c.shows)];
    const unknown = labels.flatMap((l) => (l.expect === null ? [] : [l.expect].flat())).filter((id) => !ids.has(id));
    expect(unknown).toEqual([]);
  });

  it(`meets precision >= ${MIN_PRECISION} and recall >= ${MIN_RECALL} on the hand-built hard cases`, async () => {
    const total = emptyTally();
    for (const [n, c] of gold.cases.entries()) {
      const file = path.join(dir, `case-${n}.csv`);
      await writeFile(file, `Title,Date\n${c.rows.map(([title, date]) => `"${title.replace(/"/g, '""')}",${date}`).join('\n')}\n`);
      const { shows } = matchEvents((await readHistory(file, { dateOrder: 'ymd', now: NOW })).events, matcher);
      expect(score(catalog, c.shows, [], shows, total), `${c.name}: extracted shows without a label`).toEqual([]);
    }
    console.info(summary('hand-built cases', total));
    assertTargets('hand-built cases', total);
  });

  for (const exp of gold.exports) {
    const file = path.join(SHARED_DATA, exp.file);
    const missing = !existsSync(file);
    if (missing) console.warn(`matching gold: skipping the real export, ${file} does not exist`);
    it.skipIf(missing)(`meets precision >= ${MIN_PRECISION} and recall >= ${MIN_RECALL} on ${exp.file}, every show labelled`, async () => {
      const total = emptyTally();
      const { shows } = matchEvents((await readHistory(file, { now: NOW })).events, matcher);
      expect(score(catalog, exp.shows, exp.excluded, shows, total), 'extracted shows without a label: add them to the gold set').toEqual([]);
      console.info(summary(exp.file, total));
      assertTargets(exp.file, total);
    });
  }
});
