import { availableParallelism } from 'node:os';
import { Worker, type TransferListItem } from 'node:worker_threads';

/**
 * Worker threads running one inline source, one per core up to `maxThreads`: the
 * file workers (hash-workers.ts) and the mask workers (secagg/mask-workers.ts). The
 * source is a string, so the threads run the same from the sources (tsx) and from the
 * bundled build. A job is a message carrying an id, answered by a message with the same
 * id. A source with start-up work of its own (`announcesReady`) posts `{ ready: true }`
 * once it is done, and `started()` waits for that. The threads start on first use (or
 * `started()`), then stay for the life of the process, keeping it alive only while a job
 * is in flight. When a thread dies, every job in flight fails and the next use starts a
 * new pool; the exits of the dead pool's other threads are ignored (they must not end a
 * pool started since).
 */
export interface PoolThread {
  readonly worker: Worker;
  /** Jobs in flight on this thread. */
  busy: number;
}

export interface PoolOptions {
  /** Names the pool in errors ("a <name> exited"). */
  name: string;
  maxThreads: number;
  /** Handed to every thread as `workerData`, computed when a pool starts. */
  workerData?: () => unknown;
  /** The source's first message is `{ ready: true }`, posted when its start-up work is done (jobs sent before wait for it). */
  announcesReady?: boolean;
}

interface Pending<Reply> {
  resolve: (reply: Reply) => void;
  reject: (err: unknown) => void;
}

export class WorkerPool<Reply extends { id: number }> {
  private threads: PoolThread[] | null = null;
  private online: Promise<void> = Promise.resolve();
  private readonly pending = new Map<number, Pending<Reply>>();
  private nextId = 0;

  constructor(
    private readonly source: string,
    private readonly options: PoolOptions,
  ) {}

  /** The running threads, started if none run. */
  running(): PoolThread[] {
    this.threads ??= this.start();
    return this.threads;
  }

  /** The running threads, without starting any. */
  current(): readonly PoolThread[] {
    return this.threads ?? [];
  }

  /** Start the threads now (a thread takes tens of milliseconds to come up); resolves once each is up (ready, with `announcesReady`) or gone. */
  started(): Promise<void> {
    this.running();
    return this.online;
  }

  /** The running thread with the fewest jobs in flight. */
  leastBusy(): PoolThread {
    return this.running().reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  /** Post `message` with a fresh id to `thread` (moving `transfer` there); resolves with its reply, rejects when the pool dies first. */
  submit(thread: PoolThread, message: Record<string, unknown>, transfer: readonly TransferListItem[] = []): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (thread.busy++ === 0) thread.worker.ref(); // a job in flight keeps the process alive
      thread.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** End the threads (jobs in flight fail); the next use starts new ones. */
  async stop(): Promise<void> {
    await Promise.all(this.current().map((t) => t.worker.terminate()));
  }

  private start(): PoolThread[] {
    const count = Math.min(this.options.maxThreads, Math.max(1, availableParallelism()));
    const workerData = this.options.workerData?.();
    const ready: Promise<void>[] = [];
    const threads = Array.from({ length: count }, () => {
      const thread: PoolThread = { worker: new Worker(this.source, { eval: true, execArgv: [], workerData }), busy: 0 };
      // Up: online, or with announcesReady once its first message ({ ready: true }) came; until then the thread keeps
      // the process alive (its start-up work is not cut short), afterwards only while a job is in flight. unref()
      // before the thread is online does not hold (Node 20), so it is done (again) once the thread is up.
      let awaitingReady = this.options.announcesReady === true;
      if (!awaitingReady) thread.worker.unref();
      let resolveUp!: () => void;
      ready.push(
        new Promise<void>((resolve) => {
          resolveUp = resolve;
          thread.worker.once('exit', () => resolve());
        }),
      );
      const up = () => {
        if (thread.busy === 0) thread.worker.unref();
        resolveUp();
      };
      if (!awaitingReady) thread.worker.once('online', up);
      thread.worker.on('message', (reply: Reply) => {
        if (awaitingReady) {
          awaitingReady = false; // { ready: true }: no job's reply
          up();
          return;
        }
        if (--thread.busy === 0) thread.worker.unref();
        const job = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        job?.resolve(reply);
      });
      thread.worker.on('error', (err) => this.fail(thread, err));
      thread.worker.on('exit', (code) => this.fail(thread, new Error(`a ${this.options.name} exited (code ${code})`)));
      return thread;
    });
    this.online = Promise.all(ready).then(() => undefined);
    return threads;
  }

  /** A thread of the running pool died: every job in flight fails, and the next use starts new threads. */
  private fail(thread: PoolThread, err: unknown): void {
    if (!this.threads?.includes(thread)) return; // a thread of a pool already ended (its siblings' exits after a failure)
    const dead = this.threads;
    this.threads = null;
    for (const t of dead) void t.worker.terminate();
    for (const job of this.pending.values()) job.reject(err);
    this.pending.clear();
  }
}
