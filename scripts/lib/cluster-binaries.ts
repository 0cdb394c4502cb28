/**
 * The programs of `npm run cluster`, built from their Go modules at pinned versions and cached next to the
 * Temporal CLI (~/.cache/deploy-orchestrator/):
 *   temporal-server-v1.29.1/temporal-server     go.temporal.io/server/cmd/server
 *   temporal-server-v1.29.1/temporal-sql-tool   go.temporal.io/server/cmd/tools/sql (schemas embedded)
 *   temporal-ui-server-v2.42.1/ui-server        github.com/temporalio/ui-server/v2/cmd/server
 * Server 1.29.1 and UI 2.42.1 are what the pinned CLI v1.5.1 embeds as its dev server, so the two lanes
 * run the same Temporal.
 */
import path from 'node:path';
import { findGo, goInstallIntoCache, isAtLeast, isExecutable, politeGoJobs, projectCacheRoot, versionLine, withBuildLock, defaultProgress, type Progress } from './go-build';
import { MINIMUM_GO_VERSION } from './temporal-cli';

export const TEMPORAL_SERVER_VERSION = '1.29.1';
export const TEMPORAL_UI_SERVER_VERSION = '2.42.1';

const SERVER_MODULE = 'go.temporal.io/server';
const UI_SERVER_MODULE = 'github.com/temporalio/ui-server/v2';

export interface ClusterBinaries {
  server: string;
  sqlTool: string;
  uiServer: string;
}

export function temporalServerCacheDir(): string {
  return path.join(projectCacheRoot(), `temporal-server-v${TEMPORAL_SERVER_VERSION}`);
}

export function temporalUiServerCacheDir(): string {
  return path.join(projectCacheRoot(), `temporal-ui-server-v${TEMPORAL_UI_SERVER_VERSION}`);
}

export function cachedClusterBinaries(): ClusterBinaries {
  return {
    server: path.join(temporalServerCacheDir(), 'temporal-server'),
    sqlTool: path.join(temporalServerCacheDir(), 'temporal-sql-tool'),
    uiServer: path.join(temporalUiServerCacheDir(), 'ui-server'),
  };
}

/** What each program's --version says when it is the pinned build (the versions are compiled in). */
const EXPECTED_VERSION_LINES: Record<string, RegExp> = {
  'temporal-server': new RegExp(`^temporal version ${escape(TEMPORAL_SERVER_VERSION)}$`),
  'temporal-sql-tool': new RegExp(`^temporal-sql-tool version ${escape(TEMPORAL_SERVER_VERSION)}$`),
  'ui-server': new RegExp(`^Temporal UI version ${escape(TEMPORAL_UI_SERVER_VERSION)}$`),
};

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function isPinnedBuild(binary: string): Promise<boolean> {
  if (!(await isExecutable(binary))) return false;
  const line = await versionLine(binary).catch(() => '');
  return EXPECTED_VERSION_LINES[path.basename(binary)]!.test(line);
}

async function checkVersion(built: string, installedAs: string): Promise<void> {
  const line = await versionLine(built).catch((err: Error) => `(could not run it: ${err.message})`);
  if (!EXPECTED_VERSION_LINES[installedAs]!.test(line)) {
    throw new Error(`The freshly built ${installedAs} reports "${line}", which is not the pinned version.`);
  }
}

/**
 * The cached server, SQL tool and UI server, building whichever is missing (`go install`, half the cores).
 * Progress lines (waiting for a lock, go's output, elapsed time) go to `onProgress` (default stderr).
 */
export async function findOrBuildClusterBinaries(options: { onProgress?: Progress } = {}): Promise<ClusterBinaries> {
  const progress = options.onProgress ?? defaultProgress;
  const binaries = cachedClusterBinaries();
  const serverReady = async () => (await isPinnedBuild(binaries.server)) && (await isPinnedBuild(binaries.sqlTool));
  const uiReady = () => isPinnedBuild(binaries.uiServer);
  if ((await serverReady()) && (await uiReady())) return binaries;

  const go = await findGo();
  const advice =
    `Install Go >= ${MINIMUM_GO_VERSION.replace(/\.0$/, '')} (https://go.dev/dl/): the cluster's programs are then built ` +
    `automatically into ${projectCacheRoot()}.`;
  if (!go) throw new Error(`The Temporal server for npm run cluster is not built yet and Go is not installed to build it. ${advice}`);
  if (!isAtLeast(go.version, MINIMUM_GO_VERSION)) {
    throw new Error(`Go ${go.version} (${go.path}) is too old to build Temporal server v${TEMPORAL_SERVER_VERSION}. ${advice}`);
  }

  if (!(await serverReady())) {
    await withBuildLock(temporalServerCacheDir(), `the Temporal server v${TEMPORAL_SERVER_VERSION}`, progress, async () => {
      if (await serverReady()) return;
      await goInstallIntoCache({
        go: go.path,
        what: `the Temporal server and SQL tool v${TEMPORAL_SERVER_VERSION}`,
        // One module at one version: go builds both in one run and shares every compiled package.
        packages: [`${SERVER_MODULE}/cmd/server@v${TEMPORAL_SERVER_VERSION}`, `${SERVER_MODULE}/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`],
        ldflags: '-s -w',
        jobs: politeGoJobs(),
        cacheDir: temporalServerCacheDir(),
        binaries: [
          { built: 'server', installedAs: 'temporal-server' },
          { built: 'sql', installedAs: 'temporal-sql-tool' },
        ],
        verify: checkVersion,
        alternative: `build them yourself (go install ${SERVER_MODULE}/cmd/server@v${TEMPORAL_SERVER_VERSION}) and place them as ${binaries.server} and ${binaries.sqlTool}.`,
        progress,
      });
    });
  }

  if (!(await uiReady())) {
    await withBuildLock(temporalUiServerCacheDir(), `the Temporal UI server v${TEMPORAL_UI_SERVER_VERSION}`, progress, async () => {
      if (await uiReady()) return;
      await goInstallIntoCache({
        go: go.path,
        what: `the Temporal UI server v${TEMPORAL_UI_SERVER_VERSION}`,
        packages: [`${UI_SERVER_MODULE}/cmd/server@v${TEMPORAL_UI_SERVER_VERSION}`],
        ldflags: '-s -w',
        jobs: politeGoJobs(),
        cacheDir: temporalUiServerCacheDir(),
        binaries: [{ built: 'server', installedAs: 'ui-server' }],
        verify: checkVersion,
        alternative: `build it yourself (go install ${UI_SERVER_MODULE}/cmd/server@v${TEMPORAL_UI_SERVER_VERSION}) and place it as ${binaries.uiServer}.`,
        progress,
      });
    });
  }
  return binaries;
}
