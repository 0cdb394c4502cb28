import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FailureType, refuse } from '../errors';
import { loadMigrationDir } from '../migrations/files';
import { configName } from '../names';
import { collectBundleEntries, writeBundle } from './bundle';
import { detectBuildSandbox, findBuildProgram, handScratchToBuildUser, SANDBOX_HOME, SANDBOX_TMP, sandboxArgv, sandboxPath } from './build-sandbox';
import { checkoutCommit, commitTime, resolveRevision, sourceIdentity } from './git';
import { ArtifactManifest, canonicalJson, StoredArtifact } from './manifest';
import { normaliseRelativePath } from './paths';
import { runBuildProcess } from './run-build';
import { markScratchActive, scratchPrefix } from './scratch';
import { checkStoreNames, storeArtifact, tempBlobPath } from './store';

export interface BuildProgress {
  phase: 'resolve' | 'checkout' | 'build' | 'pack' | 'store';
  message: string;
}

export interface BuildOptions {
  service: string;
  version: string;
  /** Path of a git repository of the service's source; only committed content is read. */
  repository: string;
  /** argv run in a clean checkout of the revision, never through a shell; [] packs the checkout as it is. */
  buildCommand: string[];
  /** Paths relative to the checkout (files or directories) packed into the bundle. */
  outputs: string[];
  /** Directory of migrations relative to the checkout; absent means none. Always packed. */
  migrationsDir: string;
  requiredConfig: string[];
  storeDir: string;
  /**
   * Scratch space for checkouts; each build uses and removes its own subdirectory (a worker killed
   * mid-build leaves it behind: `reclaimStaleBuildDirs` removes it at the next start).
   */
  workDir: string;
  timeoutMs: number;
  onProgress?: (p: BuildProgress) => void;
  /** Aborting stops the build process group. */
  signal?: AbortSignal;
  /** Build this commit (the one a version was recorded from) instead of resolving the version now. */
  commit?: string;
  /**
   * The sha256 the bundle must have (a rebuild of a recorded artifact): any other result is refused with
   * `refusal(actual)` before it is stored.
   */
  expect?: { sha256: string; refusal: (actualSha256: string) => Error };
}

function checkOptions(o: BuildOptions): { outputs: string[]; migrationsDir: string } {
  checkStoreNames(o.service, o.version);
  if (!Array.isArray(o.buildCommand) || o.buildCommand.some((a) => typeof a !== 'string')) {
    throw refuse(FailureType.InvalidInput, 'build command must be a list of arguments (argv), e.g. ["npm", "run", "build"]');
  }
  if (!Array.isArray(o.outputs) || o.outputs.length === 0) {
    throw refuse(FailureType.InvalidInput, 'outputs must list at least one path to pack, e.g. ["dist"]');
  }
  const outputs = o.outputs.map((value) => {
    const checked = normaliseRelativePath(value);
    if (!checked.ok) throw refuse(FailureType.InvalidInput, `output "${value}" ${checked.reason}`);
    return checked.path;
  });
  const migrations = normaliseRelativePath(o.migrationsDir);
  if (!migrations.ok) throw refuse(FailureType.InvalidInput, `migrations directory "${o.migrationsDir}" ${migrations.reason}`);
  for (const name of o.requiredConfig) {
    const checked = configName.safeParse(name);
    if (!checked.success) throw refuse(FailureType.InvalidInput, `required config "${name}" ${checked.error.issues[0]?.message}`);
  }
  if (!(Number.isFinite(o.timeoutMs) && o.timeoutMs > 0)) {
    throw refuse(FailureType.InvalidInput, `build timeout ${o.timeoutMs} must be a positive number of milliseconds`);
  }
  return { outputs: [...new Set(outputs)], migrationsDir: migrations.path };
}

/**
 * Builds `service@version` from the committed source into the content-addressed store. Idempotent:
 * a version already stored with the same bytes is reused; with different bytes it is refused.
 */
export async function buildArtifact(o: BuildOptions): Promise<StoredArtifact & { reused: boolean }> {
  const { outputs, migrationsDir } = checkOptions(o);
  const progress = (phase: BuildProgress['phase'], message: string) => {
    try {
      o.onProgress?.({ phase, message });
    } catch {
      // A failing progress sink must not fail the build.
    }
  };

  progress('resolve', o.commit ? `rebuilding version ${o.version} from its recorded commit ${o.commit}` : `resolving version ${o.version} in ${o.repository}`);
  const commit = await resolveRevision(o.repository, o.commit ?? o.version);
  const repository = await sourceIdentity(o.repository);
  // Before any checkout: without a working sandbox no build runs (the refusal names the fix).
  const sandbox = o.buildCommand.length > 0 ? await detectBuildSandbox() : null;
  const epoch = await commitTime(o.repository, commit);
  const describe = `${o.service} ${o.version} (commit ${commit.slice(0, 12)})`;
  progress('resolve', `version ${o.version} is commit ${commit}`);

  await fs.mkdir(o.workDir, { recursive: true });
  const scratch = await fs.mkdtemp(path.join(path.resolve(o.workDir), scratchPrefix(o.service, o.version)));
  markScratchActive(scratch, true);
  let tempBundle: string | undefined;
  try {
    const checkout = path.join(scratch, 'src');
    const home = path.join(scratch, 'home');
    const tmp = path.join(scratch, 'tmp');
    await Promise.all([fs.mkdir(home), fs.mkdir(tmp)]);
    o.signal?.throwIfAborted();
    progress('checkout', `checking out ${commit} into ${checkout}`);
    await checkoutCommit(o.repository, commit, checkout, path.join(scratch, 'index'));

    if (o.buildCommand.length > 0 && sandbox) {
      progress('build', `running ${o.buildCommand.join(' ')}${sandbox.kind === 'unsandboxed' ? ' (unsandboxed: DEPLOY_UNSANDBOXED_BUILDS=1)' : ` in the build sandbox (uid 65534)`}`);
      const sandboxed = sandbox.kind !== 'unsandboxed';
      if (sandboxed) {
        if (!(await findBuildProgram(o.buildCommand[0]!, checkout))) {
          throw refuse(
            FailureType.BuildFailed,
            `build of ${describe}: command "${o.buildCommand[0]}" was not found on PATH (${sandboxPath()}) in the build sandbox; fix the spec's build command, install it on the worker, or list its directory in DEPLOY_BUILD_SANDBOX_PATHS`,
          );
        }
        await handScratchToBuildUser(sandbox, { checkout, home, tmp });
      }
      const started = Date.now();
      await runBuildProcess({
        argv: o.buildCommand,
        launch: sandboxed ? await sandboxArgv(sandbox, { checkout, home, tmp }, o.buildCommand) : undefined,
        cwd: sandboxed ? scratch : checkout,
        // Only what a build needs: nothing of the worker's environment (credentials, tokens) reaches it.
        env: {
          PATH: sandboxed ? sandboxPath() : (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'),
          HOME: sandboxed ? SANDBOX_HOME : home,
          TMPDIR: sandboxed ? SANDBOX_TMP : tmp,
          LANG: 'C',
          SOURCE_DATE_EPOCH: String(epoch),
          DEPLOY_SERVICE: o.service,
          DEPLOY_VERSION: o.version,
          DEPLOY_COMMIT: commit,
        },
        timeoutMs: o.timeoutMs,
        signal: o.signal,
        describe,
        onLine: (line) => progress('build', line),
      });
      progress('build', `build finished in ${Date.now() - started} ms`);
    }

    o.signal?.throwIfAborted();
    progress('pack', `packing ${outputs.join(', ')} and ${migrationsDir}`);
    const entries = await collectBundleEntries(checkout, outputs, migrationsDir, epoch);
    let migrations;
    try {
      migrations = await loadMigrationDir(path.join(checkout, migrationsDir));
    } catch (err) {
      throw refuse(FailureType.InvalidInput, `${describe}, migrations directory ${migrationsDir}: ${(err as Error).message}`);
    }
    const manifest: ArtifactManifest = {
      service: o.service,
      version: o.version,
      commit,
      buildCommand: [...o.buildCommand],
      outputs,
      requiredConfig: [...o.requiredConfig],
      migrations: migrations.map(({ id, phase, checksum }) => ({ id, phase, checksum })),
      files: entries.length + 1,
    };
    tempBundle = await tempBlobPath(o.storeDir);
    const { sha256, sizeBytes } = await writeBundle(entries, canonicalJson(manifest), epoch, tempBundle);
    progress('pack', `bundle has ${manifest.files} entries, ${sizeBytes} bytes, sha256 ${sha256}`);
    if (o.expect && sha256 !== o.expect.sha256) throw o.expect.refusal(sha256);

    o.signal?.throwIfAborted();
    progress('store', `storing ${o.service} ${o.version} in ${o.storeDir}`);
    const stored = await storeArtifact(o.storeDir, tempBundle, { sha256, sizeBytes, manifest, repository });
    tempBundle = undefined;
    progress('store', stored.reused ? `reused the identical stored artifact ${sha256}` : `stored ${stored.path}`);
    return stored;
  } finally {
    if (tempBundle) await fs.rm(tempBundle, { force: true });
    await fs.rm(scratch, { recursive: true, force: true });
    markScratchActive(scratch, false);
  }
}
