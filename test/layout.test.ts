import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../src/shared/config';

/**
 * The folders are the architecture (docs/style.md): `src/shared` holds what
 * both processes use and depends on neither; the participant and the
 * aggregator are built from it and never import each other, so a format both
 * read lives in `src/shared`.
 */
const SRC = path.join(PROJECT_ROOT, 'src');
const IMPORT_RE = /^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]|\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Top folder under src/ of a file (`participant`, `shared`, … or `.` for src/cli.ts). */
const area = (file: string) => path.relative(SRC, file).split(path.sep).slice(0, -1)[0] ?? '.';

/** Every relative import of every source file, as `from -> to` areas. */
function imports(): { file: string; target: string; from: string; to: string }[] {
  return sourceFiles(SRC).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(IMPORT_RE)].map((m) => {
      const target = path.resolve(path.dirname(file), m[1] ?? m[2] ?? m[3]);
      return { file: path.relative(PROJECT_ROOT, file), target: path.relative(PROJECT_ROOT, target), from: area(file), to: area(`${target}.ts`) };
    }),
  );
}

describe('source layout', () => {
  const all = imports();

  it('finds the imports it checks', () => {
    expect(all.length).toBeGreaterThan(200);
    expect(all.some((i) => i.from === 'participant' && i.to === 'shared')).toBe(true);
  });

  it('the participant and the aggregator never import each other', () => {
    const crossing = all.filter((i) => (i.from === 'participant' && i.to === 'aggregator') || (i.from === 'aggregator' && i.to === 'participant'));
    expect(crossing.map((i) => `${i.file} imports ${i.target}`)).toEqual([]);
  });

  it('src/shared imports nothing outside src/shared', () => {
    const outward = all.filter((i) => i.from === 'shared' && i.to !== 'shared');
    expect(outward.map((i) => `${i.file} imports ${i.target}`)).toEqual([]);
  });
});
