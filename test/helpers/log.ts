import pino from 'pino';

export interface Captured {
  logger: pino.Logger;
  lines: { level: number; msg: string }[];
}

/** A debug-level logger whose lines are kept for the test to read. */
export function capture(): Captured {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (text: string) => void lines.push(JSON.parse(text) as { level: number; msg: string }) });
  return { logger, lines };
}

/** The warnings and errors among the captured lines. */
export const complaints = (c: Captured) => c.lines.filter((l) => l.level >= 40);
