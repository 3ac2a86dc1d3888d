import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/commands/index';
import { PROJECT_ROOT } from '../../src/shared/config';

describe('the command table', () => {
  it('names every command file of src/commands, in order, and loads each one', async () => {
    const files = readdirSync(path.join(PROJECT_ROOT, 'src', 'commands'))
      .filter((f) => f.endsWith('.ts') && f !== 'command.ts' && f !== 'index.ts')
      .map((f) => f.slice(0, -3))
      .sort();
    expect(COMMANDS.map((c) => c.name)).toEqual(files);
    for (const entry of COMMANDS) {
      expect(entry.summary.length).toBeGreaterThan(10);
      const command = await entry.load();
      expect(command.usage).toMatch(/^\s*usage: /);
      expect(typeof command.run).toBe('function');
    }
  }, 600_000);
});
