import { spawn } from 'node:child_process';
import type { CommandRecord } from '../types';
import { redact } from './redact';

export { redact } from './redact';

export const OUTPUT_TAIL_CHARS = 2048;
/** Enough stdout for a `current` command's one line, bounded so a chatty command cannot exhaust memory. */
const KEPT_CHARS = 64 * 1024;
const KILL_GRACE_MS = 2000;
/** After the command exits, how long to wait for grandchildren that still hold its output pipes. */
const CLOSE_GRACE_MS = 1000;

export interface RunOptions {
  cwd: string;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
  /** Runtime configuration values and the worker's secrets: replaced by [redacted:NAME] in the captured output. */
  secrets: Record<string, string>;
}

export interface RunResult {
  record: CommandRecord;
  stdout: string;
  timedOut: boolean;
  /** Why the program could not be started (e.g. ENOENT), if it could not. */
  startError?: string;
  /** The command's outcome is unknown: the process that ran it (the command runner) ended first. */
  lost?: string;
}

function appendBounded(buffer: string, chunk: string): string {
  const joined = buffer + chunk;
  return joined.length > KEPT_CHARS ? joined.slice(joined.length - KEPT_CHARS) : joined;
}

/**
 * Runs argv directly (no shell) in its own process group, so a timeout kills everything it started.
 * Never rejects: a failure to start, a timeout or a non-zero exit are all reported in the record.
 *
 * This starts the command from the calling process; targets go through `runCommand` in ./command-runner,
 * which calls this in a small helper process instead (see there why).
 */
export function runCommandInProcess(argv: string[], options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const [file, ...args] = argv as [string, ...string[]];
  return new Promise((resolve) => {
    let combined = '';
    let stdout = '';
    let timedOut = false;
    let exitCode: number | null = null;
    let startError: string | undefined;
    let finished = false;
    const timers: NodeJS.Timeout[] = [];

    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const finish = () => {
      if (finished) return;
      finished = true;
      timers.forEach(clearTimeout);
      // Whatever it started that ignored SIGTERM goes too: a timed-out deploy must not go on in the background.
      if (timedOut) killGroup('SIGKILL');
      child.stdout?.destroy();
      child.stderr?.destroy();
      let output = redact(combined, options.secrets);
      if (startError) output = `${output}could not start ${file}: ${startError}`;
      if (timedOut) output = `${output}\n[killed after ${options.timeoutMs} ms timeout]`;
      output = output.length > OUTPUT_TAIL_CHARS ? output.slice(output.length - OUTPUT_TAIL_CHARS) : output;
      const record: CommandRecord = { argv, exitCode, output, durationMs: Date.now() - started };
      resolve({ record, stdout, timedOut, ...(startError ? { startError } : {}) });
    };

    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout = appendBounded(stdout, chunk);
      combined = appendBounded(combined, chunk);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      combined = appendBounded(combined, chunk);
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      startError = err.code ?? err.message;
      finish();
    });
    child.once('exit', (code) => {
      exitCode = timedOut ? null : code;
      timers.push(setTimeout(finish, CLOSE_GRACE_MS));
    });
    child.once('close', finish);
    timers.push(
      setTimeout(() => {
        timedOut = true;
        killGroup('SIGTERM');
        timers.push(setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS));
      }, options.timeoutMs),
    );
  });
}
