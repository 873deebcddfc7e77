// Long operations as jobs: an id, a state, a progress figure, a result or an error, and cancel.
// Jobs name the keys (volume names) they touch: jobs sharing a key run one after the other in submission
// order, jobs with disjoint keys run in parallel up to `maxParallel`. Quick operations take the same keys
// with tryLock and are refused (Busy) while anything holds or waits for them.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { codeOf } from '../common/coded-error.js';
import { JobError } from './errors.js';
import { log } from '../common/log.js';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobContext {
  signal: AbortSignal;
  /** 0..100 */
  progress(percent: number): void;
}

export interface JobSpec {
  /** e.g. "flatten", "clone", "rollback", "delete", "resize" */
  operation: string;
  /** what the job works on, for display ("pool/volume") */
  object: string;
  /** lock keys (volume names) */
  keys: string[];
  /** false when stopping half-way would leave a state worse than finishing (rollback, delete) */
  cancellable: boolean;
  /** returns a short result text (e.g. the new volume's name) */
  run(ctx: JobContext): Promise<string>;
}

export interface JobSnapshot {
  id: string;
  operation: string;
  object: string;
  state: JobState;
  progress: number;
  cancellable: boolean;
  result: string;
  errorCode: string;
  error: string;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
}

/** emits "changed" (this) on every state/progress change and "completed" (this) once at the end */
export class Job extends EventEmitter {
  readonly id: string;
  readonly operation: string;
  readonly object: string;
  readonly keys: string[];
  readonly cancellable: boolean;
  state: JobState = 'queued';
  progress = 0;
  result = '';
  errorCode = '';
  error = '';
  readonly createdAt = Date.now();
  startedAt = 0;
  finishedAt = 0;
  readonly abort = new AbortController();
  private readonly done: Promise<Job>;
  private resolveDone!: (j: Job) => void;
  readonly spec: JobSpec;

  constructor(spec: JobSpec) {
    super();
    this.id = randomBytes(6).toString('hex');
    this.operation = spec.operation;
    this.object = spec.object;
    this.keys = [...new Set(spec.keys)];
    this.cancellable = spec.cancellable;
    this.spec = spec;
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  get finished(): boolean {
    return this.state === 'succeeded' || this.state === 'failed' || this.state === 'cancelled';
  }

  /** resolves when the job has finished, whatever the outcome */
  wait(): Promise<Job> {
    return this.done;
  }

  snapshot(): JobSnapshot {
    return {
      id: this.id,
      operation: this.operation,
      object: this.object,
      state: this.state,
      progress: this.progress,
      cancellable: this.cancellable,
      result: this.result,
      errorCode: this.errorCode,
      error: this.error,
      createdAt: this.createdAt,
      startedAt: this.startedAt,
      finishedAt: this.finishedAt,
    };
  }

  /** @internal */
  setProgress(pct: number): void {
    const p = Math.max(0, Math.min(100, Math.floor(pct)));
    if (p === this.progress || this.finished) return;
    this.progress = p;
    this.emit('changed', this);
  }

  /** @internal */
  finish(state: 'succeeded' | 'failed' | 'cancelled', result = '', err?: { code: string; message: string }): void {
    this.state = state;
    this.result = result;
    if (state === 'succeeded') this.progress = 100;
    if (err) {
      this.errorCode = err.code;
      this.error = err.message;
    }
    this.finishedAt = Date.now();
    this.emit('changed', this);
    this.emit('completed', this);
    this.resolveDone(this);
  }
}

export interface JobRunnerOptions {
  maxParallel?: number;
  /** finished jobs are kept this long for `job ls`/`job show`, then forgotten */
  retainMs?: number;
  /** and at most this many */
  retainCount?: number;
}

/** emits "added" (job), "removed" (job) */
export class JobRunner extends EventEmitter {
  readonly maxParallel: number;
  private readonly retainMs: number;
  private readonly retainCount: number;
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private running = 0;
  /** keys held by running jobs and quick operations */
  private readonly held = new Set<string>();

  constructor(opts: JobRunnerOptions = {}) {
    super();
    this.maxParallel = Math.max(1, opts.maxParallel ?? 4);
    this.retainMs = opts.retainMs ?? 3600_000;
    this.retainCount = opts.retainCount ?? 200;
  }

  list(): Job[] {
    return [...this.jobs.values()];
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /** true while a running or queued job, or a quick operation, uses the key */
  isBusy(key: string): boolean {
    return this.held.has(key) || this.queue.some((j) => j.keys.includes(key));
  }

  /** For quick operations: takes the keys at once or throws BusyError. Returns the release function. */
  tryLock(keys: string[], what: string): () => void {
    const busy = keys.find((k) => this.isBusy(k));
    if (busy !== undefined) {
      const job = [...this.jobs.values()].find((j) => !j.finished && j.keys.includes(busy));
      throw new JobError(
        'Busy',
        `"${busy}" is busy${job ? ` with job ${job.id} (${job.operation}, ${job.state})` : ''}; ${what} refused, try again later`,
      );
    }
    const uniq = [...new Set(keys)];
    for (const k of uniq) this.held.add(k);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of uniq) this.held.delete(k);
      this.pump();
    };
  }

  submit(spec: JobSpec): Job {
    const job = new Job(spec);
    this.jobs.set(job.id, job);
    this.queue.push(job);
    this.emit('added', job);
    this.pump();
    return job;
  }

  /** Cancels a queued job at once, or aborts a running cancellable one (its child process is killed). */
  cancel(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new JobError('NotFound', `job ${id} not found`);
    if (job.finished) return job;
    if (job.state === 'queued') {
      this.queue.splice(this.queue.indexOf(job), 1);
      job.finish('cancelled', '', { code: 'Cancelled', message: 'cancelled before it started' });
      this.scheduleForget(job);
      this.pump();
      return job;
    }
    if (!job.cancellable) throw new JobError('Busy', `job ${id} (${job.operation}) cannot be cancelled once started`);
    job.abort.abort();
    return job;
  }

  private pump(): void {
    for (let i = 0; i < this.queue.length && this.running < this.maxParallel;) {
      const job = this.queue[i];
      // FIFO per key: a job may not overtake an earlier queued job that shares a key with it
      const blockedByEarlier = this.queue.slice(0, i).some((e) => e.keys.some((k) => job.keys.includes(k)));
      if (blockedByEarlier || job.keys.some((k) => this.held.has(k))) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.start(job);
    }
  }

  private start(job: Job): void {
    this.running++;
    for (const k of job.keys) this.held.add(k);
    job.state = 'running';
    job.startedAt = Date.now();
    job.emit('changed', job);
    const ctx: JobContext = { signal: job.abort.signal, progress: (p) => job.setProgress(p) };
    void (async () => {
      try {
        const result = await job.spec.run(ctx);
        job.finish('succeeded', result);
      } catch (e) {
        const code = codeOf(e);
        const message = e instanceof Error ? e.message : String(e);
        if (code === 'Cancelled' || job.abort.signal.aborted)
          job.finish('cancelled', '', { code: 'Cancelled', message });
        else {
          log().warn({ job: job.id, op: job.operation, object: job.object, err: message }, 'job failed');
          job.finish('failed', '', { code, message });
        }
      } finally {
        this.running--;
        for (const k of job.keys) this.held.delete(k);
        this.scheduleForget(job);
        this.pump();
      }
    })();
  }

  private scheduleForget(job: Job): void {
    const t = setTimeout(() => this.forget(job), this.retainMs);
    t.unref();
    const finished = [...this.jobs.values()].filter((j) => j.finished);
    for (const old of finished.slice(0, Math.max(0, finished.length - this.retainCount))) this.forget(old);
  }

  private forget(job: Job): void {
    if (this.jobs.delete(job.id)) this.emit('removed', job);
  }

  /** waits for every running and queued job (daemon shutdown, tests) */
  async drain(): Promise<void> {
    await Promise.all([...this.jobs.values()].filter((j) => !j.finished).map((j) => j.wait()));
  }
}
