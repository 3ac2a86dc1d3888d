import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/shared/config';
import { AppError, ERROR_CODES, formatError } from '../../src/shared/errors';

describe('error catalogue', () => {
  it('documents every code in the README with its meaning', () => {
    const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    for (const [code, meaning] of Object.entries(ERROR_CODES)) expect(readme, code).toContain(`| \`${code}\` | ${meaning} |`);
  });

  it('maps usage and configuration errors to exit 2 and the rest to exit 1', () => {
    expect(new AppError('ERR_CONFIG_INVALID', 'x').exitCode).toBe(2);
    expect(new AppError('ERR_USAGE', 'x').exitCode).toBe(2);
    expect(new AppError('ERR_DELTA_NORM', 'x').exitCode).toBe(1);
    expect(formatError(new AppError('ERR_HISTORY_EMPTY', 'a.csv has no rows'))).toBe('ERR_HISTORY_EMPTY: a.csv has no rows');
  });
});
