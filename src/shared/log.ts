import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The root logger: pino JSON, pretty-printed when stdout is a terminal.
 * Each module takes a child: `rootLogger().child({ module: 'aggregator' })`.
 */
let root: Logger | undefined;

export function rootLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  if (root) return root;
  const pretty = process.stdout.isTTY && process.env.LOG_FORMAT !== 'json';
  root = pino(
    { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    pretty
      ? pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } })
      : pino.destination({ fd: 1, sync: true }),
  );
  return root;
}

/** A child logger for one module. */
export function moduleLogger(module: string, parent?: Logger): Logger {
  return (parent ?? rootLogger()).child({ module });
}

/** A logger that drops everything (tests and library callers that pass none). */
export const silentLogger: Logger = pino({ level: 'silent' });
