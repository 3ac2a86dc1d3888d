import { loadCatalog } from '../shared/catalog';
import { loadConfig } from '../shared/config';
import { AppError } from '../shared/errors';
import { moduleLogger, rootLogger } from '../shared/log';
import { resolveIdentity, Workspace } from '../shared/workspace';
import { loadRecommendations, type ProfileRecommendations, type RecommendedShow } from '../participant/recommendations';
import { intOption, parseOptions, profileOption, type Command } from './command';

const DEFAULT_K = 10;
const MAX_K = 500;
const SCORE_DIGITS = 4;
const TITLE_WIDTH = 44;


/** What `recommend --json` prints. */
interface RecommendJson {
  profile: string;
  access: ProfileRecommendations['access'];
  globalVersion: number | null;
  local: RecommendedShow[];
  global: RecommendedShow[];
}

function rounded(shows: RecommendedShow[]): RecommendedShow[] {
  return shows.map((s) => ({ id: s.id, showId: s.showId, title: s.title, score: Number(s.score.toFixed(SCORE_DIGITS)) }));
}

function formatList(heading: string, shows: RecommendedShow[]): string[] {
  const lines = [heading];
  shows.forEach((s, i) => {
    const title = s.title.length > TITLE_WIDTH ? `${s.title.slice(0, TITLE_WIDTH - 1)}…` : s.title;
    lines.push(`  ${String(i + 1).padStart(2)}. ${title.padEnd(TITLE_WIDTH)} ${s.showId.padEnd(6)} id ${String(s.id).padEnd(5)} ${s.score.toFixed(SCORE_DIGITS)}`);
  });
  if (shows.length === 0) lines.push('  (nothing left to recommend: every candidate was watched)');
  return lines;
}

function formatText(recs: ProfileRecommendations): string {
  const lines = [`${recs.profile} · trained ${recs.trainedAt} from global model v${recs.localBaseVersion}`, ''];
  lines.push(...formatList('Local model (your history only):', recs.local), '');
  if (recs.access === 'granted') lines.push(...formatList(`Global model (v${recs.globalVersion}):`, recs.global));
  else lines.push('Global model: waiting for the aggregator to share it; only local recommendations for now.');
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  usage: `
usage: npm run -s cli -- recommend [--profile <n>] [--k 10] [--json]

Scores the catalogue with the profile's private user factors, once with the
local item factors and once with the newest Global_V this datasite may read,
leaving out shows already watched (re-ranked for diversity when DIVERSITY > 0).

  --profile   profile_<n> or <n> (default: the first of NETFLIX_PROFILES)
  --k         shows per list (default ${DEFAULT_K})
  --json      print { profile, access, globalVersion, local: [{ id, showId, title, score }], global: [...] }
`,
  async run(argv) {
    const { values } = parseOptions(argv, { profile: { type: 'string' }, k: { type: 'string' }, json: { type: 'boolean' } });
    const config = loadConfig();
    const profile = profileOption(values.profile, config);
    const k = intOption('k', values.k, DEFAULT_K);
    if (k > MAX_K) throw new AppError('ERR_USAGE', `--k ${k}: expected at most ${MAX_K}`);
    const logger = moduleLogger('recommend', rootLogger(config.LOG_LEVEL));
    const ws = new Workspace(resolveIdentity(config), config.APP_NAME);
    const catalog = await loadCatalog(config.CATALOG_PATH);
    const recs = await loadRecommendations({ config, ws, catalog, logger }, profile, k);
    if (recs === null) {
      throw new AppError('ERR_FILE_NOT_FOUND', `${profile} has no trained model yet: run the participant first (npm run -s cli -- participant --once), then try again`);
    }
    if (values.json) {
      const out: RecommendJson = { profile, access: recs.access, globalVersion: recs.globalVersion, local: rounded(recs.local), global: rounded(recs.global) };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      process.stdout.write(formatText(recs));
    }
    return 0;
  },
};
