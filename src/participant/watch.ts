import { existsSync } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../shared/log';

/**
 * Watch paths that may not exist yet (a history file before the user exports it,
 * the aggregator's global folder before it is synced). chokidar reports nothing
 * for a missing path, so we watch the nearest existing ancestor of each target
 * and ignore everything that is neither on the way to a target nor inside one.
 * Events are debounced into one callback.
 */
interface TargetWatcher {
  close(): Promise<void>;
  /** Resolves once the initial scan is done (events after this are real changes). */
  ready: Promise<void>;
}

interface WatchOptions {
  debounceMs: number;
  logger: Logger;
  onChange: (paths: string[]) => void;
}

export function watchTargets(targets: string[], { debounceMs, logger, onChange }: WatchOptions): TargetWatcher {
  const resolved = targets.map((t) => path.resolve(t));
  // Watch from the parent: a history file replaced by rename stays watched.
  const roots = [...new Set(resolved.map((t) => nearestExistingAncestor(path.dirname(t))))];
  const relevant = (p: string): boolean =>
    roots.includes(p) || resolved.some((t) => p === t || p.startsWith(t + path.sep) || t.startsWith(p + path.sep));
  const watcher: FSWatcher = watch(roots, {
    ignoreInitial: true,
    ignored: (p: string) => !relevant(path.resolve(p)) || p.endsWith('.tmp'),
    awaitWriteFinish: { stabilityThreshold: Math.min(debounceMs, 500), pollInterval: 50 },
  });
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  watcher.on('all', (event, changed) => {
    const file = path.resolve(changed);
    if (!resolved.some((t) => file === t || file.startsWith(t + path.sep))) return;
    logger.debug({ event, file }, 'watched path changed');
    pending.add(file);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const batch = [...pending];
      pending = new Set();
      onChange(batch);
    }, debounceMs);
  });
  // A watcher error (a folder vanishing, EACCES) is expected in a synced tree: log, keep going.
  watcher.on('error', (err) => logger.warn({ err }, 'file watcher error'));
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {
    ready,
    async close() {
      clearTimeout(timer);
      await watcher.close();
    },
  };
}

function nearestExistingAncestor(target: string): string {
  let dir = target;
  while (!existsSync(dir)) {
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return dir;
}
