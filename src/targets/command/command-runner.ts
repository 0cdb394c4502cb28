import { fork, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { runCommandInProcess, type RunOptions, type RunResult } from './run-command';
// Also what makes every build of the worker compile the runner next to this file.
import type { RunRequest } from './runner-process';

/**
 * Target commands are started by a small helper process (./runner-process.ts), not by the worker itself.
 * Starting a process forks the one that starts it, and the fork blocks its event loop for as long as it
 * takes to copy the page tables and wait for the child's exec: 10–30 ms for a worker of 300–600 MB on a busy
 * machine, against ≈ 2 ms for the helper. With three commands per instant deploy that was 45 % of the
 * worker's main thread at 200 deploys in flight, time in which no workflow or activity task moved
 * (BENCHMARKS.md, "Worker memory"). The helper is started on the first command; should it fail to start,
 * commands run in the worker as before.
 */
export function runCommand(argv: string[], options: RunOptions): Promise<RunResult> {
  if (runner === undefined) runner = startRunner();
  return runner ? runner.run(argv, options) : runCommandInProcess(argv, options);
}

/** undefined: not started (or ended: the next command starts another); null: could not be started. */
let runner: CommandRunner | null | undefined;

function startRunner(): CommandRunner | null {
  try {
    const entry = require.resolve('./runner-process');
    // Under tsx (tests, npm run dev) the helper is TypeScript too; compiled (production) it is plain node. It
    // runs little JavaScript: no JIT and a small young generation keep its private memory at ≈ 10 MB.
    const execArgv = [...(entry.endsWith('.ts') ? ['--import', pathToFileURL(require.resolve('tsx')).href] : []), '--jitless', '--max-semi-space-size=1'];
    const child = fork(entry, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    return new CommandRunner(child);
  } catch {
    return null;
  }
}

class CommandRunner {
  private readonly pending = new Map<number, { argv: string[]; startedAt: number; resolve: (r: RunResult) => void }>();
  private nextId = 1;
  private ended: string | undefined;

  constructor(private readonly child: ChildProcess) {
    child.on('message', (message: { id: number; result: RunResult }) => {
      const p = this.pending.get(message.id);
      if (!p) return;
      this.pending.delete(message.id);
      this.refWhileBusy();
      p.resolve(message.result);
    });
    const end = (why: string) => {
      if (this.ended) return;
      this.ended = why;
      if (runner === this) runner = undefined; // the next command starts a new helper
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.resolve(lost(p.argv, p.startedAt, why));
      }
    };
    child.on('exit', (code, signal) => end(`the worker's command runner process ended (${signal ?? `exit code ${code}`}) before the command reported back`));
    child.on('error', (err) => end(`the worker's command runner process failed: ${err.message}`));
    this.refWhileBusy();
  }

  run(argv: string[], options: RunOptions): Promise<RunResult> {
    const startedAt = Date.now();
    if (this.ended) return Promise.resolve(lost(argv, startedAt, this.ended));
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.pending.set(id, { argv, startedAt, resolve });
      this.refWhileBusy();
      const request: RunRequest = { id, argv, options };
      this.child.send(request, (err) => {
        if (!err || !this.pending.has(id)) return;
        this.pending.delete(id);
        this.refWhileBusy();
        resolve(lost(argv, startedAt, `the worker's command runner process did not take the command: ${err.message}`));
      });
    });
  }

  /** An idle helper does not keep the worker's process alive; one running a command does. */
  private refWhileBusy(): void {
    const channel = this.child.channel as { ref(): void; unref(): void } | null | undefined;
    if (this.pending.size > 0) {
      this.child.ref();
      channel?.ref();
    } else {
      this.child.unref();
      channel?.unref();
    }
  }
}

function lost(argv: string[], startedAt: number, why: string): RunResult {
  return { record: { argv, exitCode: null, output: why, durationMs: Date.now() - startedAt }, stdout: '', timedOut: false, lost: why };
}
