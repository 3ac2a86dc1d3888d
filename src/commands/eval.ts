import path from 'node:path';
import { AppError } from '../shared/errors';
import { moduleLogger, rootLogger } from '../shared/log';
import { VARIABLES } from '../shared/config';
import { ALL_BASELINES, runExplicit, runImplicit, runPredictions, runRecommendations, type BaselineName, type DpMode, type EvalOptions } from '../eval/run';
import type { TitleStyle } from '../eval/movielens';
import { DEFAULT_STEP } from '../shared/model/federated';
import { DP_COUNT_SHARE, DP_DIMENSIONS, DP_TOP_ITEMS } from '../shared/model/subspace';
import { intOption, numberOption, parseOptions, type Command } from './command';

/** Chosen on validation splits of several data sets (docs/eval/README.md, "How the defaults were chosen"). */
const DEFAULTS = {
  implicit: { rank: 32, reg: 3, alpha: 2, biasReg: 0, rounds: 10 },
  explicit: { rank: 16, reg: 0.2, alpha: 0, biasReg: 5, rounds: 10 },
} as const;
/** trainLocal: one epoch at the safe step (the local list, local-only, the FedAvg baseline). */
const DEFAULT_LOCAL_EPOCHS = 1;
const DEFAULT_LOCAL_LR = 100;
/** The FedAvg baseline as it was tuned on ml-latest-small: server learning rate 8, clip 1000 (= none). */
const DEFAULT_FEDAVG_SERVER_LR = 8;
const DEFAULT_FEDAVG_CLIP = 1000;
const DEFAULT_HALF_LIFE_DAYS = 100000;
const DEFAULT_EPSILONS = '1,8';
const DEFAULT_DP_DELTA = 1e-5;
/** Whole-contribution bound C (score units), rounds and λ of the DP settings (docs/eval, "Privacy"). */
const DEFAULT_DP_CLIP = 2;
const DEFAULT_DP_ROUNDS = 5;
const DEFAULT_DP_REG = 0.3;
const DEFAULT_CENTRAL_ITERATIONS = 10;
const DEFAULT_FOLDS = 5;
const DEFAULT_SEED = 42;
/** The optimizer's rounds also through the real secure-aggregation protocol unless `--secure off` (issue 14 requirement 6). */
const DEFAULT_SECURE = true;

export const command: Command = {
  usage: `
usage: npm run -s cli -- eval --ratings <dir> [options]

Turns every user of a MovieLens-format folder (ratings.csv, movies.csv) into a
participant with a Netflix-style export in a temporary SyftBox-layout root, runs
the real participant pipeline and aggregator rounds, and compares the federated
model with baselines on the same split. Progress goes to stderr.

  --ratings <dir>         MovieLens-format folder (required)
  --protocol <p>          implicit (leave-last-out; HR@10, NDCG@10, Recall@20, sampled HR/NDCG)
                          or explicit (k-fold; RMSE, MAE)                 [implicit]
  --folds <k>             folds of the explicit protocol                  [5]
  --holdout <h>           last (evaluate) or none (train on everything and write
                          recommendations.jsonl, or predictions.csv with --predict)  [last]
  --predict <csv>         explicit + --holdout none: userId,movieId pairs to predict
  --out <dir>             where reports, charts and outputs go            [eval-results]
  --rounds <n>            federated rounds                                [10]
  --rank <k> --reg <l> --alpha <a>
                          model (defaults per protocol: implicit 32, 3, 2; explicit 16, 0.2)
  --bias-reg <b>          explicit: the constant prior of the biases      [5]
  --step <s>              damping of the preconditioned step              [${DEFAULT_STEP}]
  --epochs <e> --lr <lr>  trainLocal (local list, local-only, FedAvg)     [1, 100]
  --fedavg-server-lr <s>  the FedAvg baseline's server learning rate      [8]
  --fedavg-clip <c>       the FedAvg baseline's delta clip norm           [1000]
  --half-life <days>      recency half-life of the implicit confidence   [100000 = off]
  --epsilons <list>       DP settings: total ε per user over all rounds, comma-separated,
                          or none                                         [1,8]
  --dp <mode>             distributed (DP PureSVD through the real secure-aggregation protocol in
                          process: each participant's Skellam noise share, the sum carries the
                          calibrated noise; ε = the total of its two rounds; the loop's defaults),
                          distributed-sim (the same in memory with simulated Gaussian sum noise:
                          fast, takes --dp-top-items/--dp-dimensions/--dp-count-share),
                          central (aggregator noise on the optimizer), local (participant
                          noise) or both (central and local)              [distributed-sim]
  --dp-budget <b>         what ε bounds: total (the user's whole run, zCDP over the rounds),
                          per-round (each round's Gaussian), or both      [total]
  --dp-delta <d>          δ per user (of the run, or of each round with per-round)  [1e-5]
  --dp-clip <c>           bound C of a whole contribution in the DP settings (score units)  [${DEFAULT_DP_CLIP}]
  --dp-rounds <n>         rounds of the DP settings                       [${DEFAULT_DP_ROUNDS}]
  --dp-reg <l>            λ of the DP settings (less shrinkage pays under noise)  [${DEFAULT_DP_REG}]
  --dp-top-items <m>      distributed-sim: the most-watched items DP PureSVD learns  [${DP_TOP_ITEMS}]
  --dp-dimensions <k>     distributed-sim: its eigen-directions                [${DP_DIMENSIONS}]
  --dp-count-share <f>    distributed-sim: share of the budget for round 1's counts  [${DP_COUNT_SHARE}]
  --baselines <list>      popularity,local,central,fedavg, all or none    [all]
  --secure <on|off>       on: run the optimizer's rounds through the real secure-aggregation
                          protocol in process (setting federated-secure: round files, keys,
                          shares, masked fixed-point sums) and in memory with the same clip
                          (federated-clipped), and check they agree within 1%; off: only the
                          in-memory rounds (faster). --secure alone means on  [on]
  --secure-clip <c>       their CONTRIBUTION_CLIP_NORM                    [${VARIABLES.CONTRIBUTION_CLIP_NORM.default}]
  --central-iterations <n> ALS iterations of the central baseline         [10]
  --titles <style>        export titles: catalog (Netflix-like, no year) or movielens  [catalog]
  --users <n>             only the first n users (quick runs)
  --seed <n>              split, sampling, initialization and noise seed  [42]
  --scores                add scores to recommendations.jsonl
  --keep-root             keep the temporary SyftBox root (printed)
  --json                  print the report JSON on stdout
`,
  async run(args) {
    const { argv, secure } = secureSwitch(args);
    const { values } = parseOptions(argv, {
      ratings: { type: 'string' },
      protocol: { type: 'string' },
      folds: { type: 'string' },
      holdout: { type: 'string' },
      predict: { type: 'string' },
      out: { type: 'string' },
      rounds: { type: 'string' },
      rank: { type: 'string' },
      reg: { type: 'string' },
      alpha: { type: 'string' },
      epochs: { type: 'string' },
      lr: { type: 'string' },
      'bias-reg': { type: 'string' },
      step: { type: 'string' },
      'fedavg-server-lr': { type: 'string' },
      'fedavg-clip': { type: 'string' },
      'half-life': { type: 'string' },
      epsilons: { type: 'string' },
      dp: { type: 'string' },
      'dp-budget': { type: 'string' },
      'dp-delta': { type: 'string' },
      'dp-clip': { type: 'string' },
      'dp-rounds': { type: 'string' },
      'dp-reg': { type: 'string' },
      'dp-top-items': { type: 'string' },
      'dp-dimensions': { type: 'string' },
      'dp-count-share': { type: 'string' },
      baselines: { type: 'string' },
      'secure-clip': { type: 'string' },
      'central-iterations': { type: 'string' },
      titles: { type: 'string' },
      users: { type: 'string' },
      seed: { type: 'string' },
      scores: { type: 'boolean' },
      'keep-root': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (!values.ratings) throw new AppError('ERR_USAGE', '--ratings <dir> is required (a folder with ratings.csv and movies.csv)');
    const protocol = oneOf('protocol', values.protocol ?? 'implicit', ['implicit', 'explicit'] as const);
    const holdout = oneOf('holdout', values.holdout ?? 'last', ['last', 'none'] as const);
    if (values.predict && (protocol !== 'explicit' || holdout !== 'none')) throw new AppError('ERR_USAGE', '--predict goes with --protocol explicit --holdout none');
    const d = DEFAULTS[protocol];
    const options: EvalOptions = {
      ratingsDir: path.resolve(values.ratings),
      out: path.resolve(values.out ?? 'eval-results'),
      protocol,
      holdout,
      folds: intOption('folds', values.folds, DEFAULT_FOLDS, 2),
      predictFile: values.predict ? path.resolve(values.predict) : null,
      maxUsers: values.users === undefined ? null : intOption('users', values.users, 0),
      rounds: intOption('rounds', values.rounds, d.rounds),
      rank: intOption('rank', values.rank, d.rank),
      reg: positive('reg', numberOption('reg', values.reg, d.reg), true),
      alpha: positive('alpha', numberOption('alpha', values.alpha, d.alpha), true),
      biasReg: positive('bias-reg', numberOption('bias-reg', values['bias-reg'], d.biasReg), true),
      step: positive('step', numberOption('step', values.step, DEFAULT_STEP)),
      epochs: intOption('epochs', values.epochs, DEFAULT_LOCAL_EPOCHS),
      lr: positive('lr', numberOption('lr', values.lr, DEFAULT_LOCAL_LR)),
      halfLifeDays: positive('half-life', numberOption('half-life', values['half-life'], DEFAULT_HALF_LIFE_DAYS)),
      fedavgServerLr: positive('fedavg-server-lr', numberOption('fedavg-server-lr', values['fedavg-server-lr'], DEFAULT_FEDAVG_SERVER_LR)),
      fedavgClipNorm: positive('fedavg-clip', numberOption('fedavg-clip', values['fedavg-clip'], DEFAULT_FEDAVG_CLIP)),
      epsilons: parseEpsilons(values.epsilons ?? DEFAULT_EPSILONS),
      dpBudgets: values['dp-budget'] === 'both' ? ['total', 'per-round'] : [oneOf('dp-budget', values['dp-budget'] ?? 'total', ['total', 'per-round'] as const)],
      dpDelta: positive('dp-delta', numberOption('dp-delta', values['dp-delta'], DEFAULT_DP_DELTA)),
      dpModes: values.dp === 'both' ? ['central', 'local'] : [oneOf('dp', values.dp ?? 'distributed-sim', ['distributed', 'distributed-sim', 'central', 'local'] as const) as DpMode],
      dpClipNorm: positive('dp-clip', numberOption('dp-clip', values['dp-clip'], DEFAULT_DP_CLIP)),
      dpRounds: intOption('dp-rounds', values['dp-rounds'], DEFAULT_DP_ROUNDS),
      dpReg: positive('dp-reg', numberOption('dp-reg', values['dp-reg'], DEFAULT_DP_REG), true),
      dpTopItems: intOption('dp-top-items', values['dp-top-items'], DP_TOP_ITEMS),
      dpDimensions: intOption('dp-dimensions', values['dp-dimensions'], DP_DIMENSIONS),
      dpCountShare: share('dp-count-share', numberOption('dp-count-share', values['dp-count-share'], DP_COUNT_SHARE)),
      baselines: parseBaselines(values.baselines ?? 'all'),
      secure,
      secureClipNorm: positive('secure-clip', numberOption('secure-clip', values['secure-clip'], Number(VARIABLES.CONTRIBUTION_CLIP_NORM.default))),
      centralIterations: intOption('central-iterations', values['central-iterations'], DEFAULT_CENTRAL_ITERATIONS),
      titles: oneOf('titles', values.titles ?? 'catalog', ['catalog', 'movielens'] as const) as TitleStyle,
      seed: intOption('seed', values.seed, DEFAULT_SEED, 0),
      keepRoot: values['keep-root'] === true,
      scores: values.scores === true,
      command: `npm run -s cli -- eval ${args.join(' ')}`,
      logger: moduleLogger('eval', rootLogger(process.env.LOG_LEVEL ?? 'warn')),
      progress: (line) => process.stderr.write(`${line}\n`),
    };

    if (holdout === 'none') {
      const result = protocol === 'implicit' ? await runRecommendations(options) : await runPredictions(options);
      for (const file of result.files) process.stderr.write(`wrote ${file}\n`);
      if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      return 0;
    }
    const { report, files } = protocol === 'implicit' ? await runImplicit(options) : await runExplicit(options);
    const rows = report.settings.map((s) => `  ${s.name.padEnd(32)} ${Object.entries(s.metrics).filter(([k]) => k !== 'users' && k !== 'count').map(([k, v]) => `${k} ${(v as number).toFixed(4)}`).join('  ')}`);
    process.stderr.write(`${rows.join('\n')}\n`);
    for (const c of report.checks) process.stderr.write(`  ${c.met ? 'met    ' : 'NOT MET'} ${c.name}: ${c.value.toFixed(4)} (threshold ${c.threshold})\n`);
    for (const file of files) process.stderr.write(`wrote ${file}\n`);
    if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  },
};

/**
 * `--secure on`, `--secure off`, `--secure=on|off`, or `--secure` alone (on, as command lines
 * written when it was not the default meant it); the rest of the arguments for `parseOptions`.
 */
function secureSwitch(args: readonly string[]): { argv: string[]; secure: boolean } {
  const argv: string[] = [];
  let secure = DEFAULT_SECURE;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--secure') {
      const next = args[i + 1];
      if (next === 'on' || next === 'off') {
        secure = next === 'on';
        i++;
      } else secure = true;
    } else if (arg.startsWith('--secure=')) {
      secure = oneOf('secure', arg.slice('--secure='.length), ['on', 'off'] as const) === 'on';
    } else argv.push(arg);
  }
  return { argv, secure };
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new AppError('ERR_USAGE', `--${name} ${value}: expected one of ${allowed.join(', ')}`);
  return value as T;
}

function positive(name: string, value: number, allowZero = false): number {
  if (value < 0 || (!allowZero && value === 0)) throw new AppError('ERR_USAGE', `--${name} ${value}: expected a number ${allowZero ? '>= 0' : '> 0'}`);
  return value;
}

function share(name: string, value: number): number {
  if (!(value > 0 && value < 1)) throw new AppError('ERR_USAGE', `--${name} ${value}: expected a number between 0 and 1 (exclusive)`);
  return value;
}

function parseEpsilons(text: string): number[] {
  if (text === 'none') return [];
  return text.split(',').map((s) => {
    const n = Number(s.trim());
    if (!(n > 0) || !Number.isFinite(n)) throw new AppError('ERR_USAGE', `--epsilons ${text}: expected positive numbers separated by commas, or none`);
    return n;
  });
}

function parseBaselines(text: string): Set<BaselineName> {
  if (text === 'all') return new Set(ALL_BASELINES);
  if (text === 'none') return new Set();
  return new Set(
    text.split(',').map((s) => oneOf('baselines', s.trim(), ALL_BASELINES)),
  );
}
