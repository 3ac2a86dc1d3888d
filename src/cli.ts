import { COMMANDS } from './commands/index';
import { loadConfig } from './shared/config';
import { AppError, formatError } from './shared/errors';

/**
 * The one entry point: `npm run -s cli -- <command> [options]`.
 * Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
const MIN_NODE_MAJOR = 20;

/** From the static table: no command module is loaded for the list. */
function printHelp(): void {
  const lines = ['usage: npm run -s cli -- <command> [options]', '', 'commands:'];
  for (const { name, summary } of COMMANDS) lines.push(`  ${name.padEnd(12)} ${summary}`);
  lines.push('', 'Run `npm run -s cli -- <command> --help` for the options of one command.');
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** A variable in .env that the app does not know is probably a typo: say so on stderr, once per key. */
function warnUnknownDotenvKeys(): void {
  let keys: readonly string[];
  try {
    keys = loadConfig().unknownDotenvKeys;
  } catch {
    return; // an invalid value: the command reports it when it loads the configuration
  }
  for (const key of keys) process.stderr.write(`warning: .env sets ${key}, which this app does not use (typo?); see .env.example\n`);
}

async function main(argv: string[]): Promise<number> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < MIN_NODE_MAJOR) {
    throw new AppError('ERR_NODE_VERSION', `Node.js ${process.versions.node} is too old: install Node ${MIN_NODE_MAJOR} or newer`);
  }
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    printHelp();
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) throw new AppError('ERR_USAGE', `unknown command "${name}"; run with --help to list commands`);
  const cmd = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.usage.trim()}\n`);
    return 0;
  }
  // `app` logs these itself, as pino lines in the app log.
  if (name !== 'app') warnUnknownDotenvKeys();
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`error: ${formatError(err)}\n`);
    if (!(err instanceof AppError) && process.env.DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = err instanceof AppError ? err.exitCode : 1;
  },
);
