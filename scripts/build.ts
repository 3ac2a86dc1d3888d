/**
 * `npm run build`: the production build, dist/cli.js, for run.sh and the README's
 * commands. Plain `node dist/cli.js <command>` then starts without the TypeScript
 * loader (tsx compiles every module on every start).
 *
 * Why a bundler and not `tsc` with an emit tsconfig: the sources import without file
 * extensions (`from '../shared/atomic'`), which Node's ESM loader does not resolve,
 * and CommonJS output would lose `import.meta.url`. esbuild (installed with tsx, which
 * runs on it) resolves the imports, strips the types, and with `splitting` keeps each
 * command's `import('./ingest')` a chunk of its own, so a command loads only its code.
 * Packages stay external: node_modules is next to dist/. Type checking stays with
 * `npm run typecheck`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { PROJECT_ROOT } from '../src/shared/config';

/**
 * Build into `outdir` from scratch (stale chunks of an earlier build would only confuse).
 * `--outdir` (tests, the bench) must be inside the project: the build finds data/, ui/
 * and node_modules from the package.json above it.
 */
async function buildDist(outdir: string): Promise<void> {
  await fs.rm(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: ['src/cli.ts'],
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.10',
    packages: 'external',
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: true,
    logLevel: 'warning',
  });
}

const { values } = parseArgs({ options: { outdir: { type: 'string', default: 'dist' } } });
const outdir = path.resolve(PROJECT_ROOT, values.outdir);
const started = performance.now();
await buildDist(outdir);
process.stdout.write(`built ${path.relative(PROJECT_ROOT, outdir)}/cli.js in ${Math.round(performance.now() - started)} ms\n`);
