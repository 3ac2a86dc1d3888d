/**
 * The one catalogue of error codes. Every failure a user or another process can
 * cause carries one of these codes; the message says what was wrong, where (file,
 * row, variable) and what to do. `test/shared/errors.test.ts` checks that every
 * code is documented in this table.
 */
export const ERROR_CODES = {
  // configuration and environment (exit code 2)
  ERR_CONFIG_INVALID: 'a configuration variable has a value outside what it accepts',
  ERR_CONFIG_MISSING: 'a configuration variable the command needs is not set',
  ERR_USAGE: 'the command line is not what the command accepts',
  ERR_SYFTBOX_CONFIG: 'the SyftBox client config file is missing, unreadable or lacks email/data_dir',
  ERR_NODE_VERSION: 'the Node.js version is older than the project supports',
  // files and formats
  ERR_FILE_NOT_FOUND: 'a file the command needs does not exist',
  ERR_FILE_TOO_LARGE: 'a file is larger than the limit for its kind',
  ERR_FILE_NOT_REGULAR: 'a path is a symlink, folder or device where a regular file is required',
  ERR_NPY_FORMAT: 'an .npy file is truncated, has a bad header, or a dtype/shape other than expected',
  ERR_JSON_FORMAT: 'a JSON file is not valid JSON or does not match its schema',
  ERR_PERMISSION_FILE: 'a syft.pub.yaml or syftperm.yaml file is malformed',
  // history ingestion
  ERR_HISTORY_EMPTY: 'the viewing-history file has no data rows',
  ERR_HISTORY_COLUMNS: 'the viewing-history file lacks the columns of either Netflix export shape',
  ERR_HISTORY_BINARY: 'the viewing-history file is not text',
  ERR_HISTORY_CSV: 'the viewing-history file is not well-formed CSV (a quoted field is never closed)',
  ERR_HISTORY_DATE: 'a date in the viewing history cannot be parsed in the file\'s date format',
  ERR_HISTORY_DATE_AMBIGUOUS: 'the day/month order of the history dates cannot be decided from the file',
  ERR_HISTORY_CHANGED: 'the viewing-history file changed while it was being read',
  // catalogue and model
  ERR_CATALOG_FORMAT: 'the catalogue file is malformed',
  ERR_RATINGS_FORMAT: 'a MovieLens-format ratings.csv (evaluation input) is malformed',
  ERR_MODEL_SHAPE: 'a model matrix has a shape other than items x rank',
  ERR_MODEL_VERSION: 'a model file has an unknown format version or a different vocabulary',
  // deltas and aggregation
  ERR_DELTA_MANIFEST: 'a delta manifest is malformed, oversized, or has an unknown format version',
  ERR_DELTA_HASH: 'the sha256 of a delta payload differs from its manifest',
  ERR_DELTA_SHAPE: 'a delta has a shape, rank or vocabulary other than the current model',
  ERR_DELTA_NONFINITE: 'a delta contains NaN or Infinity',
  ERR_DELTA_NORM: 'a delta\'s L2 norm exceeds the clip bound plus the noise tolerance',
  ERR_DELTA_STALE: 'a delta was computed from a Global_V older than the staleness limit',
  ERR_DELTA_REPLAY: 'a delta with this content hash was already applied',
  ERR_DELTA_PATH: 'a delta path escapes its datasite (symlink, .., separators)',
  ERR_PRIVACY_BUDGET: 'the privacy budget of a profile is spent for now; it sits releases out until older spends leave the `PRIVACY_PERIOD_DAYS` window',
  ERR_LEDGER_BROKEN: 'the round ledger does not verify (hash chain or Global_V mismatch)',
  ERR_AGGREGATOR_STATE: 'the aggregator\'s private round records do not match its committed Global_V versions',
  // secure aggregation
  ERR_SECAGG_SHARE: 'a sealed secure-aggregation share does not authenticate, or is not addressed from a neighbour to this member',
  ERR_SECAGG_REFUSED: 'a member refuses an unmask request that is inconsistent or differs from the one it already answered',
  ERR_SECAGG_ABORT: 'a secure-aggregation round cannot be unmasked (too few shares revealed, or inconsistent lists); nobody is unmasked',
  ERR_SECAGG_FILE: 'a secure-aggregation round file is malformed, oversized, for another round, or inconsistent with the round',
  // web server
  ERR_PORT_IN_USE: 'the web port is already taken by another process',
  ERR_CROSS_ORIGIN: 'a state-changing request came from another origin, another Host, or without its page token',
  ERR_BAD_REQUEST: 'an HTTP request body or query does not match its route\'s schema, is too large, or names a show that was not on the page',
  ERR_NOT_FOUND: 'no page or API route at this path',
  ERR_INTERNAL: 'an unexpected failure inside the web server (details in the app log, none in the response)',
  ERR_PAGE_VIEW_EXPIRED: 'a click names a page view this server does not know (restarted or too old): reload the page',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes that are the caller's mistake (usage or configuration): the CLI exits 2 for these. */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set([
  'ERR_CONFIG_INVALID',
  'ERR_CONFIG_MISSING',
  'ERR_USAGE',
  'ERR_SYFTBOX_CONFIG',
  'ERR_NODE_VERSION',
]);

/** An expected failure with a stable code; `file`/`row` say where when known. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly row?: number;

  constructor(code: ErrorCode, message: string, where: { file?: string; row?: number; cause?: unknown } = {}) {
    super(message, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'AppError';
    this.code = code;
    this.file = where.file;
    this.row = where.row;
  }

  /** Exit code for the CLI: 2 for usage/configuration, 1 for runtime failures. */
  get exitCode(): 1 | 2 {
    return USAGE_CODES.has(this.code) ? 2 : 1;
  }
}

export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}

/** One line for a human: `ERR_X: message`. */
export function formatError(err: unknown): string {
  if (err instanceof AppError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
