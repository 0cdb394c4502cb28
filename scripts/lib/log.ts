import type { Readable } from 'node:stream';

/** Human-friendly duration: "850 ms", "12.3 s", "2 min 05 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
}

/** Progress goes to stderr so that stdout stays usable for machine output. */
export function info(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function warn(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

export interface StepResult<T> {
  value: T;
  ms: number;
}

/** Runs one named step, printing its start and how long it took (or that it failed). */
export async function step<T>(label: string, run: () => Promise<T>): Promise<StepResult<T>> {
  const started = Date.now();
  info(`▶ ${label}`);
  try {
    const value = await run();
    const ms = Date.now() - started;
    info(`✓ ${label} (${formatDuration(ms)})`);
    return { value, ms };
  } catch (err) {
    info(`✗ ${label} failed after ${formatDuration(Date.now() - started)}`);
    throw err;
  }
}

/**
 * Calls `onLine` for every complete line of a stream (the last partial line is flushed at end),
 * so that a child's output can be prefixed and interleaved with others without tearing lines.
 */
export function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      onLine(pending.slice(0, newline).replace(/\r$/, ''));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (pending.length > 0) onLine(pending);
    pending = '';
  });
}

/** Forwards a child's output line by line with a fixed prefix, e.g. "[worker] ". */
export function forwardWithPrefix(stream: Readable, prefix: string, out: NodeJS.WritableStream = process.stderr): void {
  forEachLine(stream, (line) => out.write(`${prefix}${line}\n`));
}

/** Keeps the last `max` lines seen, for error messages that show what a process said before failing. */
export class LineTail {
  private readonly lines: string[] = [];
  constructor(private readonly max = 40) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }

  text(): string {
    return this.lines.join('\n');
  }
}
