import { execFile, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { LineTail, forEachLine, formatDuration } from './log';

const execFileAsync = promisify(execFile);

/** The CLI release the project is pinned to: later tags cannot be built with `go install`. */
export const PINNED_TEMPORAL_CLI_VERSION = '1.5.1';
/** The oldest CLI accepted from PATH (`start-dev --search-attribute`, `workflow update execute`). */
export const MINIMUM_TEMPORAL_CLI_VERSION = '1.5.0';
export const MINIMUM_GO_VERSION = '1.25.0';

const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
// Release builds stamp the version through ldflags; without it `temporal --version` says 0.0.0-DEV.
// -s -w drops debug symbols, as the official releases do (a third of the size).
const CLI_LDFLAGS = `-s -w -X github.com/temporalio/cli/temporalcli.Version=${PINNED_TEMPORAL_CLI_VERSION}`;

function installAdvice(): string {
  return (
  `Install one of:\n` +
  `  - Go >= 1.25 from https://go.dev/dl/ — the Temporal CLI v${PINNED_TEMPORAL_CLI_VERSION} is then built automatically into ${cachedTemporalCliPath()}\n` +
  `  - the Temporal CLI >= 1.5 (https://docs.temporal.io/cli#install) on PATH, or named by TEMPORAL_CLI=/path/to/temporal`
  );
}

export interface TemporalCliVersion {
  /** e.g. "1.5.1", or "0.0.0-DEV" for a build without the version stamp. */
  cli: string;
  /** The embedded dev server's version, e.g. "1.29.1". */
  server?: string;
  ui?: string;
  raw: string;
}

export interface FindTemporalCliOptions {
  /** Receives progress lines (waiting, building, go's own output). Defaults to stderr. */
  onProgress?: (line: string) => void;
}

/** Runs `<cli> --version` and parses "temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)". */
export async function temporalCliVersion(cliPath: string): Promise<TemporalCliVersion> {
  const { stdout } = await execFileAsync(cliPath, ['--version'], { timeout: 30_000 });
  const raw = stdout.trim();
  const match = /version\s+(\S+)(?:\s+\(Server\s+([^,\s)]+)(?:,\s*UI\s+([^,\s)]+))?)?/.exec(raw);
  if (!match) throw new Error(`${cliPath} --version printed "${raw}", which is not a Temporal CLI version line`);
  return { cli: match[1], server: match[2], ui: match[3], raw };
}

/** The cache directory of the pinned build: $XDG_CACHE_HOME (or ~/.cache)/deploy-orchestrator/temporal-cli-v1.5.1 */
export function temporalCliCacheDir(): string {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'deploy-orchestrator', `temporal-cli-v${PINNED_TEMPORAL_CLI_VERSION}`);
}

export function cachedTemporalCliPath(): string {
  return path.join(temporalCliCacheDir(), 'temporal');
}

/**
 * Finds a usable Temporal CLI, building the pinned one when none exists:
 * TEMPORAL_CLI, then `temporal` on PATH (>= 1.5), then the cached build, then `go install` into the cache.
 */
export async function findOrBuildTemporalCli(options: FindTemporalCliOptions = {}): Promise<string> {
  const progress = options.onProgress ?? ((line: string) => process.stderr.write(`${line}\n`));

  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!(await isExecutable(fromEnv))) {
      throw new Error(
        `TEMPORAL_CLI is set to ${fromEnv}, but no executable file is there. ` +
          `Point it at a Temporal CLI >= 1.5, or unset it to use the one on PATH or the cached build.`,
      );
    }
    return fromEnv;
  }

  const onPath = await findOnPath('temporal');
  if (onPath) {
    const version = await temporalCliVersion(onPath).catch(() => undefined);
    if (version && isAtLeast(version.cli, MINIMUM_TEMPORAL_CLI_VERSION)) return onPath;
    progress(
      `Ignoring ${onPath}: it reports "${version?.raw ?? 'no version'}", older than ${MINIMUM_TEMPORAL_CLI_VERSION}.`,
    );
  }

  return findOrBuildCachedCli(progress);
}

async function findOrBuildCachedCli(progress: (line: string) => void): Promise<string> {
  const target = cachedTemporalCliPath();
  const cached = await cachedBuildState(target);
  if (cached === 'pinned') return target;

  const go = await findGo();
  if (!go) {
    // An unstamped build of the pinned tag still works; only its --version line is wrong.
    if (cached === 'unstamped') return target;
    throw new Error(`The Temporal CLI was not found and Go is not installed to build it.\n${installAdvice()}`);
  }
  if (!isAtLeast(go.version, MINIMUM_GO_VERSION)) {
    if (cached === 'unstamped') return target;
    throw new Error(
      `Go ${go.version} (${go.path}) is too old to build the Temporal CLI v${PINNED_TEMPORAL_CLI_VERSION}: it needs Go >= 1.25.\n${installAdvice()}`,
    );
  }

  await withBuildLock(progress, async () => {
    // Another process may have finished the build while this one waited for the lock.
    if ((await cachedBuildState(target)) === 'pinned') return;
    await buildPinnedCli(go.path, target, progress);
  });
  return target;
}

/** 'pinned' = the stamped v1.5.1 build; 'unstamped' = built from the tag without the version stamp. */
async function cachedBuildState(target: string): Promise<'missing' | 'pinned' | 'unstamped'> {
  if (!(await isExecutable(target))) return 'missing';
  const version = await temporalCliVersion(target).catch(() => undefined);
  if (!version) return 'missing';
  return version.cli === PINNED_TEMPORAL_CLI_VERSION ? 'pinned' : 'unstamped';
}

async function buildPinnedCli(goPath: string, target: string, progress: (line: string) => void): Promise<void> {
  const cacheDir = path.dirname(target);
  // go writes into a private staging directory and the binary is renamed into place afterwards, so an
  // interrupted build never leaves a half-written `temporal` that a later lookup would trust.
  const staging = path.join(cacheDir, `.staging-${process.pid}`);
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(staging, { recursive: true });

  const args = ['install', `-ldflags=${CLI_LDFLAGS}`, `${CLI_MODULE}@v${PINNED_TEMPORAL_CLI_VERSION}`];
  progress(`Building the Temporal CLI v${PINNED_TEMPORAL_CLI_VERSION} into ${cacheDir}`);
  progress(`  GOBIN=${staging} go install -ldflags='${CLI_LDFLAGS}' ${CLI_MODULE}@v${PINNED_TEMPORAL_CLI_VERSION}`);
  progress(`  (the first build downloads modules and compiles for several minutes; later builds reuse Go's cache)`);

  const started = Date.now();
  const tail = new LineTail(30);
  const child = spawn(goPath, args, { env: { ...process.env, GOBIN: staging }, stdio: ['ignore', 'pipe', 'pipe'] });
  const onLine = (line: string) => {
    tail.push(line);
    progress(`  ${line}`);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  const ticker = setInterval(() => {
    progress(`  still building the Temporal CLI… ${formatDuration(Date.now() - started)} elapsed`);
  }, 10_000);

  try {
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    });
    if (exitCode !== 0) {
      throw new Error(
        `Building the Temporal CLI failed (go install exited with ${exitCode}). Last output:\n${tail.text()}\n` +
          `Fix the cause above (network access to proxy.golang.org, disk space, Go >= 1.25), or install ` +
          `the Temporal CLI >= 1.5 yourself and set TEMPORAL_CLI=/path/to/temporal.`,
      );
    }
    const built = path.join(staging, 'temporal');
    const version = await temporalCliVersion(built);
    if (version.cli !== PINNED_TEMPORAL_CLI_VERSION) {
      throw new Error(`The freshly built ${built} reports "${version.raw}" instead of ${PINNED_TEMPORAL_CLI_VERSION}.`);
    }
    await fs.rename(built, target);
    progress(`Built ${target} (${version.raw}) in ${formatDuration(Date.now() - started)}`);
  } finally {
    clearInterval(ticker);
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/**
 * An exclusive lock file next to the cache directory holding the builder's pid, so that concurrent
 * callers (parallel test files, `npm run dev` beside `npm test`) build once and the others wait.
 * A lock whose pid is gone is stale (a killed build) and is taken over.
 */
async function withBuildLock(progress: (line: string) => void, run: () => Promise<void>): Promise<void> {
  const lockPath = `${temporalCliCacheDir()}.lock`;
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
      progress(
        `Waiting for another build of the Temporal CLI (pid ${holder}, lock ${lockPath})… ` +
          `${formatDuration(Date.now() - waitStarted)} elapsed`,
      );
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

async function findGo(): Promise<{ path: string; version: string } | undefined> {
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

async function isExecutable(file: string): Promise<boolean> {
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
