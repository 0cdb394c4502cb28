import { spawn } from 'node:child_process';
import { FailureType, refuse } from '../errors';

export interface BuildProcessOptions {
  /** The build command, as the spec gives it (named in messages). */
  argv: string[];
  /** What is actually spawned: `argv` wrapped in the build sandbox; `argv` itself when absent. */
  launch?: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  onLine: (line: string) => void;
  signal?: AbortSignal;
  /** Names the release in messages, e.g. "hello-service 1.1.0 (commit abc…)". */
  describe: string;
}

const OUTPUT_TAIL_BYTES = 4096;
const LINE_LIMIT = 400;
const KILL_GRACE_MS = 2000;

/** Keeps the last few KB of combined output for the failure message. */
class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - (this.chunks[0]?.length ?? 0) >= OUTPUT_TAIL_BYTES) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - OUTPUT_TAIL_BYTES)).toString('utf8').replace(/^\uFFFD+/, '');
  }
}

/** Splits a byte stream into lines (per stream, so stdout and stderr lines do not interleave mid-line). */
function lineSplitter(onLine: (line: string) => void) {
  let pending = '';
  return {
    push(chunk: Buffer) {
      const parts = (pending + chunk.toString('utf8')).split(/\r?\n/);
      pending = parts.pop() ?? '';
      for (const line of parts) emit(line);
      if (pending.length > 64 * 1024) {
        emit(pending);
        pending = '';
      }
    },
    flush() {
      if (pending) emit(pending);
      pending = '';
    },
  };
  function emit(line: string) {
    onLine(line.length > LINE_LIMIT ? `${line.slice(0, LINE_LIMIT)}… (${line.length} chars)` : line);
  }
}

/**
 * Runs the build as its own process group (so a timeout or abort also stops whatever it started),
 * never through a shell. Resolves on exit code 0; refuses with the exit code and output tail otherwise.
 */
export function runBuildProcess(o: BuildProcessOptions): Promise<void> {
  if (!o.argv[0]) return Promise.resolve();
  const [command, ...args] = (o.launch ?? o.argv) as [string, ...string[]];
  if (o.signal?.aborted) return Promise.reject(abortError(o.signal, o.describe));

  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail = new OutputTail();
    const out = lineSplitter(o.onLine);
    const err = lineSplitter(o.onLine);
    child.stdout.on('data', (c: Buffer) => (tail.push(c), out.push(c)));
    child.stderr.on('data', (c: Buffer) => (tail.push(c), err.push(c)));

    let stopReason: 'timeout' | 'abort' | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    const stop = (reason: 'timeout' | 'abort') => {
      if (stopReason) return;
      stopReason = reason;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    };
    const timer = setTimeout(() => stop('timeout'), o.timeoutMs);
    const onAbort = () => stop('abort');
    o.signal?.addEventListener('abort', onAbort, { once: true });

    let settled = false;
    const finish = (error: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };

    child.on('error', (e: NodeJS.ErrnoException) => {
      finish(
        e.code === 'ENOENT'
          ? refuse(FailureType.BuildFailed, `build of ${o.describe}: command "${o.argv[0]}" was not found on PATH; fix the spec's build command or install it on the worker`)
          : e,
      );
    });

    child.on('exit', (code, signal) => {
      // Stragglers that still hold the pipes would keep 'close' from firing: give the output a moment, then move on.
      const grace = setTimeout(() => {
        killGroup('SIGKILL');
        settle();
      }, 500);
      child.once('close', () => {
        clearTimeout(grace);
        settle();
      });
      function settle() {
        out.flush();
        err.flush();
        const output = tail.text();
        if (stopReason === 'abort') return finish(abortError(o.signal!, o.describe));
        if (stopReason === 'timeout') {
          return finish(
            refuse(
              FailureType.BuildFailed,
              `build of ${o.describe} did not finish within ${o.timeoutMs} ms and was stopped; make it faster or raise the build timeout in the spec. Last output:\n${output}`,
              { timeoutMs: o.timeoutMs },
            ),
          );
        }
        if (code === 0) return finish(null);
        const how = code !== null ? `exited with code ${code}` : `was killed by ${signal}`;
        finish(
          refuse(
            FailureType.BuildFailed,
            `build of ${o.describe} (${o.argv.join(' ')}) ${how}; see the output below, fix the build and cut a new version. Last output:\n${output}`,
            { exitCode: code, signal },
          ),
        );
      }
    });
  });
}

function abortError(signal: AbortSignal, describe: string): Error {
  if (signal.reason instanceof Error) return signal.reason;
  return new Error(`build of ${describe} was cancelled`);
}
