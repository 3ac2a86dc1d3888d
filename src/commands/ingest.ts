import path from 'node:path';
import { loadConfig } from '../shared/config';
import { AppError } from '../shared/errors';
import type { DateOrderOption } from '../shared/history';
import { parseOptions, type Command } from './command';

const DATE_ORDERS: readonly DateOrderOption[] = ['auto', 'dmy', 'mdy', 'ymd'];

export const command: Command = {
  usage: `
usage: npm run -s cli -- ingest --history <file> [--catalog <file>] [--date-order dmy|mdy|ymd] [--matches] [--json]

Reads a NetflixViewingHistory.csv or ViewingActivity.csv and matches its shows
against the catalogue. Nothing is written or published.

  --history <file>     the export to read (required)
  --catalog <file>     catalogue .json or netflix_titles.csv / MovieLens movies.csv
                       (default: CATALOG_PATH, else the shipped data/catalog.json)
  --date-order <o>     day/month order of the dates: auto, dmy, mdy or ymd
                       (default: DATE_ORDER, auto = detect from the file)
  --matches            also list every show with its match: score and reason
                       (exact, normalized, fuzzy, partial title; or rejected for
                       kind, date, seasons, too doubtful; ambiguous; not in the
                       catalogue) and the catalogue items the reason is about
  --json               print one JSON object: rows, skipped, profiles, dateFormat,
                       firstDate, lastDate, shows, matched, unmatched, reasons,
                       unmatchedSample (and matches with --matches)
`,
  async run(argv) {
    const { values } = parseOptions(argv, {
      history: { type: 'string' },
      catalog: { type: 'string' },
      'date-order': { type: 'string' },
      matches: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    });
    if (!values.history) throw new AppError('ERR_USAGE', 'ingest needs --history <file>: the NetflixViewingHistory.csv or ViewingActivity.csv to read');
    const dateOrder = values['date-order'];
    if (dateOrder !== undefined && !DATE_ORDERS.includes(dateOrder as DateOrderOption)) {
      throw new AppError('ERR_USAGE', `--date-order ${dateOrder}: expected one of ${DATE_ORDERS.join(', ')}`);
    }
    const config = loadConfig();
    const { runIngest } = await import('../participant/ingest-report');
    return runIngest(config, { file: path.resolve(values.history), catalog: values.catalog, dateOrder: dateOrder as DateOrderOption | undefined, matches: values.matches, json: values.json });
  },
};
