import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The root logger: pino JSON, pretty-printed when its stream is a terminal.
 * Each module takes a child: `moduleLogger('aggregator')`. Logs go to stdout
 * (SyftBox keeps it in apps/<app>/logs/app.log); commands whose stdout is JSON
 * output pass `fd = 2` so logs and results never mix.
 */
let root: Logger | undefined;

export function rootLogger(level = process.env.LOG_LEVEL ?? 'info', fd: 1 | 2 = 1): Logger {
  if (root) return root;
  const stream = fd === 1 ? process.stdout : process.stderr;
  const pretty = stream.isTTY && process.env.LOG_FORMAT !== 'json';
  root = pino(
    { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    pretty
      ? pino.transport({ target: 'pino-pretty', options: { destination: fd, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } })
      : pino.destination({ fd, sync: true }),
  );
  return root;
}

/** A child logger for one module. */
export function moduleLogger(module: string, parent?: Logger): Logger {
  return (parent ?? rootLogger()).child({ module });
}

/** A logger that drops everything (tests and library callers that pass none). */
export const silentLogger: Logger = pino({ level: 'silent' });
