import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { findGo, findOnPath, goInstallIntoCache, isAtLeast, isExecutable, projectCacheRoot, withBuildLock } from './go-build';

export { findOnPath, isAtLeast } from './go-build';

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
  return path.join(projectCacheRoot(), `temporal-cli-v${PINNED_TEMPORAL_CLI_VERSION}`);
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

  await withBuildLock(temporalCliCacheDir(), 'the Temporal CLI', progress, async () => {
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
  await goInstallIntoCache({
    go: goPath,
    what: `the Temporal CLI v${PINNED_TEMPORAL_CLI_VERSION}`,
    packages: [`${CLI_MODULE}@v${PINNED_TEMPORAL_CLI_VERSION}`],
    ldflags: CLI_LDFLAGS,
    cacheDir: path.dirname(target),
    binaries: [{ built: 'temporal', installedAs: path.basename(target) }],
    async verify(built) {
      const version = await temporalCliVersion(built);
      if (version.cli !== PINNED_TEMPORAL_CLI_VERSION) {
        throw new Error(`The freshly built ${built} reports "${version.raw}" instead of ${PINNED_TEMPORAL_CLI_VERSION}.`);
      }
    },
    alternative: `install the Temporal CLI >= 1.5 yourself and set TEMPORAL_CLI=/path/to/temporal.`,
    progress,
  });
}
