import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../shared/config';
import { AppError } from '../shared/errors';
import { assertProfileName } from '../shared/workspace';

/**
 * One CLI command per file in `src/commands/`. The file exports `command`; its
 * name and one-line summary go in the table of `index.ts`, from which
 * `src/cli.ts` lists commands and imports only the one asked for.
 */
export interface Command {
  /** Full help text for `cli <command> --help`. */
  usage: string;
  /** Run with the arguments after the command name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parse options strictly; an unknown or malformed option is a usage error (exit 2). */
export function parseOptions<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    throw new AppError('ERR_USAGE', (err as Error).message);
  }
}

/** A positive integer option, or a usage error naming it. */
export function intOption(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new AppError('ERR_USAGE', `--${name} ${value}: expected an integer >= ${min}`);
  return n;
}

/** A finite number option, or a usage error naming it. */
export function numberOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new AppError('ERR_USAGE', `--${name} ${value}: expected a number`);
  return n;
}

/** `--profile 3` or `--profile profile_3`; default the first of NETFLIX_PROFILES. Usage error otherwise. */
export function profileOption(value: string | undefined, config: Config): string {
  const profile = value === undefined ? (config.NETFLIX_PROFILES[0] ?? 'profile_0') : /^\d+$/.test(value) ? `profile_${value}` : value;
  assertProfileName(profile);
  return profile;
}
