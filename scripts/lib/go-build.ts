/**
 * Building pinned Go programs into the project's cache (~/.cache/deploy-orchestrator/): the Temporal CLI,
 * and for `npm run cluster` the Temporal server, its SQL tool and the Web UI server.
 *
 * Every build goes to a private staging directory and is renamed into place once it checks out, so an
 * interrupted build never leaves a half-written binary that a later lookup would trust; a lock file next
 * to the cache directory makes concurrent callers build once while the others wait.
 */
import { execFile, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { LineTail, forEachLine, formatDuration } from './log';

const execFileAsync = promisify(execFile);

export type Progress = (line: string) => void;

export const defaultProgress: Progress = (line) => process.stderr.write(`${line}\n`);

/** $XDG_CACHE_HOME (or ~/.cache)/deploy-orchestrator: where every pinned build lives. */
export function projectCacheRoot(): string {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'deploy-orchestrator');
}

export async function findGo(): Promise<{ path: string; version: string } | undefined> {
  const goPath = await findOnPath('go');
  if (!goPath) return undefined;
  const { stdout } = await execFileAsync(goPath, ['version'], { timeout: 30_000 });
  const match = /go(\d+\.\d+(?:\.\d+)?)/.exec(stdout);
  return { path: goPath, version: match ? match[1] : '0.0.0' };
}

export async function findOnPath(command: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export async function isExecutable(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Compares dotted numeric versions; a pre-release or non-numeric version (0.0.0-DEV) counts as its numbers. */
export function isAtLeast(version: string, minimum: string): boolean {
  const parse = (v: string) => v.split(/[.-]/).slice(0, 3).map((part) => Number.parseInt(part, 10) || 0);
  const a = parse(version);
  const b = parse(minimum);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/** Runs `<binary> --version` and returns its first line ("temporal version 1.29.1"). */
export async function versionLine(binary: string): Promise<string> {
  const { stdout } = await execFileAsync(binary, ['--version'], { timeout: 30_000 });
  return stdout.trim().split('\n')[0] ?? '';
}

/**
 * An exclusive lock file `<cacheDir>.lock` holding the builder's pid, so that concurrent callers
 * (parallel test files, `npm run dev` beside `npm test`) build once and the others wait.
 * A lock whose pid is gone is stale (a killed build) and is taken over.
 */
export async function withBuildLock(cacheDir: string, what: string, progress: Progress, run: () => Promise<void>): Promise<void> {
  const lockPath = `${cacheDir}.lock`;
  await fs.mkdir(path.dirname(lockPath), { recursive: true });
  const waitStarted = Date.now();
  let lastNotice = 0;
  for (;;) {
    try {
      const handle = await fs.open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt(await fs.readFile(lockPath, 'utf8').catch(() => ''), 10);
    if (!Number.isFinite(holder) || !isProcessAlive(holder)) {
      await fs.rm(lockPath, { force: true });
      continue;
    }
    if (Date.now() - lastNotice >= 10_000) {
      lastNotice = Date.now();
      progress(`Waiting for another build of ${what} (pid ${holder}, lock ${lockPath})… ${formatDuration(Date.now() - waitStarted)} elapsed`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  try {
    await run();
  } finally {
    await fs.rm(lockPath, { force: true });
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface GoInstallOptions {
  /** The go binary (from findGo). */
  go: string;
  /** What is being built, for progress lines: "the Temporal CLI v1.5.1". */
  what: string;
  /** Package paths with their version, e.g. "go.temporal.io/server/cmd/server@v1.29.1" (one module and version). */
  packages: string[];
  ldflags?: string;
  /** Parallel compile jobs (`go install -p`); default: go's own (the number of cores). */
  jobs?: number;
  /** The cache directory the binaries are installed into. */
  cacheDir: string;
  /** Each binary go writes (named after its package directory) and the name it gets in the cache. */
  binaries: Array<{ built: string; installedAs: string }>;
  /** Checks one freshly built binary (e.g. its --version line) before it is moved into the cache. */
  verify?: (stagedPath: string, installedAs: string) => Promise<void>;
  /** The last sentence of a failure message: what the operator can do instead of building. */
  alternative: string;
  progress: Progress;
}

/** `go install` into a staging directory, verified, then renamed into the cache directory. */
export async function goInstallIntoCache(o: GoInstallOptions): Promise<void> {
  await fs.mkdir(o.cacheDir, { recursive: true });
  const staging = path.join(o.cacheDir, `.staging-${process.pid}`);
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(staging, { recursive: true });

  const args = ['install'];
  if (o.jobs) args.push('-p', String(o.jobs));
  if (o.ldflags) args.push(`-ldflags=${o.ldflags}`);
  args.push(...o.packages);
  const shown = args.map((arg) => (arg.startsWith('-ldflags=') ? `-ldflags='${arg.slice('-ldflags='.length)}'` : arg)).join(' ');
  o.progress(`Building ${o.what} into ${o.cacheDir}`);
  o.progress(`  GOBIN=${staging} go ${shown}`);
  o.progress(`  (the first build downloads modules and compiles for several minutes; later builds reuse Go's cache)`);

  const started = Date.now();
  const tail = new LineTail(30);
  const child = spawn(o.go, args, { env: { ...process.env, GOBIN: staging }, stdio: ['ignore', 'pipe', 'pipe'] });
  const onLine = (line: string) => {
    tail.push(line);
    o.progress(`  ${line}`);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  const ticker = setInterval(() => {
    o.progress(`  still building ${o.what}… ${formatDuration(Date.now() - started)} elapsed`);
  }, 10_000);

  try {
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    });
    if (exitCode !== 0) {
      throw new Error(
        `Building ${o.what} failed (go install exited with ${exitCode}). Last output:\n${tail.text()}\n` +
          `Fix the cause above (network access to proxy.golang.org, disk space, Go >= 1.25), or ${o.alternative}`,
      );
    }
    for (const binary of o.binaries) {
      await o.verify?.(path.join(staging, binary.built), binary.installedAs);
    }
    for (const binary of o.binaries) {
      await fs.rename(path.join(staging, binary.built), path.join(o.cacheDir, binary.installedAs));
    }
    o.progress(`Built ${o.what} (${o.binaries.map((b) => b.installedAs).join(', ')}) in ${formatDuration(Date.now() - started)}`);
  } finally {
    clearInterval(ticker);
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** Half the cores, at least one: a long compile leaves room for what else runs on the machine. */
export function politeGoJobs(): number {
  return Math.max(1, Math.floor(os.availableParallelism() / 2));
}
