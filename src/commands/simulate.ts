import path from 'node:path';
import { loadCatalog } from '../shared/catalog';
import { loadConfig } from '../shared/config';
import { AppError } from '../shared/errors';
import { moduleLogger, rootLogger } from '../shared/log';
import { DEFAULT_SIMULATION, runSimulation, SIM_AGGREGATOR, type SimulationOptions } from '../simulate/loop';
import { POISON_ATTACKS, type PoisonAttack } from '../simulate/poison';
import { formatSummary, formatWeekProgress, writeSimulationResults } from '../simulate/report';
import { intOption, numberOption, parseOptions, type Command } from './command';

/** Participant datasites are named participant-00001 ... participant-99999. */
const MAX_PARTICIPANTS = 99_999;
const MAX_RANK = 256;
const MAX_RECS = 50;
const DEFAULT_OUT = 'sim-results';
/** Weeks of honest rounds before an attack, so that there is a Global_V to damage. */
const DEFAULT_POISON_WEEK = 3;

const d = DEFAULT_SIMULATION;

export const command: Command = {
  usage: `
usage: npm run -s cli -- simulate [--participants P] [--weeks W] [--seed S] [--json] [--out DIR] [options]

Builds a SyftBox-layout root with one aggregator (${SIM_AGGREGATOR}) and P
participants, each with hidden tastes over the catalogue's genres and latent
factors and a NetflixViewingHistory.csv drawn from them. Every week, every
participant runs the production participant pass (train, publish its delta),
the aggregator runs its round, each participant watches a show it finds by
itself, is shown the page's local and global lists (sides drawn per page view)
and clicks by the choice model on its hidden tastes (src/simulate/choice.ts);
clicks go to its click log, everything watched to its export. Writes
results.json and one SVG chart per metric to --out.
Model and privacy settings come from the configuration (.env, environment),
e.g. SERVER_LR=30 LOCAL_EPOCHS=1 npm run -s cli -- simulate.

  --participants P     simulated participants (default ${d.participants}; 5,000 fit one machine)
  --weeks W            weeks to simulate (default ${d.weeks})
  --seed S             seed of tastes, histories, choices and noise (default ${d.seed})
  --rank R             MODEL_RANK of the simulated federation (default ${d.rank}, half the
                       app's default: files, training and merging cost about half)
  --recs N             shows per column, and N of NDCG@N (default ${d.recsPerColumn})
  --views-per-week V   page views per participant and week (default ${d.viewsPerWeek})
  --degrade-global F   for a share F of the participants, replace the global list by
                       the unseen shows their hidden tastes rate lowest (a planted
                       difference the experiment should detect; default 0)
  --aa                 A/A test: both columns show the local model's list
  --epsilon E          DP_EPSILON: of one DP training run (secure rounds), of each delta (plain) (default ${d.epsilon}: no noise)
  --out DIR            folder for results.json and the charts (default ${DEFAULT_OUT})
  --root DIR           build the root in DIR (new or empty) and keep it; default: a
                       temporary folder (/dev/shm when it has room), deleted at the end
  --no-audit           skip the permission audit at the end (slow beyond ~2,000 participants)
  --poison KIND        the first participant poisons every secure round from --poison-week
                       on: garbage (uniform words, the most the modulus allows) or bounded
                       (the largest delta the aggregator's sum check lets through);
                       see docs/poisoning.md
  --poison-week W      first week of the attack (default ${DEFAULT_POISON_WEEK})
  --no-sum-check       the aggregator merges any sum (to measure an attack without the check)
  --json               print the results as one JSON object on stdout
  --verbose            show the components' log lines (LOG_LEVEL) on stderr
Progress goes to stderr, one line per week. Exit 0, or 1 when the ledger or
the audit fails.
`,
  async run(argv) {
    const { values } = parseOptions(argv, {
      participants: { type: 'string' },
      weeks: { type: 'string' },
      seed: { type: 'string' },
      rank: { type: 'string' },
      recs: { type: 'string' },
      'views-per-week': { type: 'string' },
      'degrade-global': { type: 'string' },
      aa: { type: 'boolean', default: false },
      epsilon: { type: 'string' },
      out: { type: 'string' },
      root: { type: 'string' },
      'no-audit': { type: 'boolean', default: false },
      poison: { type: 'string' },
      'poison-week': { type: 'string' },
      'no-sum-check': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
    });
    const options: SimulationOptions = {
      ...d,
      participants: boundedInt('participants', values.participants, d.participants, 1, MAX_PARTICIPANTS),
      weeks: intOption('weeks', values.weeks, d.weeks),
      seed: intOption('seed', values.seed, d.seed, 0),
      rank: boundedInt('rank', values.rank, d.rank, 1, MAX_RANK),
      recsPerColumn: boundedInt('recs', values.recs, d.recsPerColumn, 1, MAX_RECS),
      viewsPerWeek: intOption('views-per-week', values['views-per-week'], d.viewsPerWeek),
      degradeGlobal: share('degrade-global', values['degrade-global']),
      aa: values.aa,
      epsilon: numberOption('epsilon', values.epsilon, d.epsilon),
      root: values.root === undefined ? null : path.resolve(values.root),
      audit: !values['no-audit'],
      attack: values.poison === undefined ? null : { kind: poisonKind(values.poison), fromWeek: intOption('poison-week', values['poison-week'], DEFAULT_POISON_WEEK) },
      sumCheck: !values['no-sum-check'],
    };
    if (options.aa && options.degradeGlobal > 0) throw new AppError('ERR_USAGE', '--aa shows the same list in both columns; it cannot be combined with --degrade-global');
    if (options.epsilon < 0) throw new AppError('ERR_USAGE', `--epsilon ${values.epsilon}: expected a number >= 0`);
    const outDir = path.resolve(values.out ?? DEFAULT_OUT);

    const config = loadConfig();
    // stdout may carry the JSON result: logs go to stderr, and only warnings unless asked for
    const logger = moduleLogger('simulate', rootLogger(values.verbose ? config.LOG_LEVEL : 'warn', 2));
    const catalog = await loadCatalog(config.CATALOG_PATH);
    const progress = (line: string) => process.stderr.write(`${line}\n`);
    progress(`simulating ${options.participants} participants x ${options.weeks} weeks (seed ${options.seed}, rank ${options.rank}, ${catalog.items.length} shows)`);
    const result = await runSimulation(options, {
      config,
      catalog,
      logger,
      onWeek: (week, total) => progress(formatWeekProgress(week, total, options.participants)),
    });
    const files = await writeSimulationResults(outDir, result);
    process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : formatSummary(result, files));
    return result.ledgerOk && result.auditOk !== false ? 0 : 1;
  },
};

function boundedInt(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  const n = intOption(name, value, fallback, min);
  if (n > max) throw new AppError('ERR_USAGE', `--${name} ${value}: expected an integer from ${min} to ${max}`);
  return n;
}

function poisonKind(value: string): PoisonAttack {
  const kind = POISON_ATTACKS.find((k) => k === value);
  if (kind === undefined) throw new AppError('ERR_USAGE', `--poison ${value}: expected one of ${POISON_ATTACKS.join(', ')}`);
  return kind;
}

function share(name: string, value: string | undefined): number {
  const n = numberOption(name, value, 0);
  if (n < 0 || n > 1) throw new AppError('ERR_USAGE', `--${name} ${value}: expected a share from 0 to 1`);
  return n;
}
