import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { buildActivity } from '../src/activities/build';
import type { ActivityDeps } from '../src/activities/context';
import { buildArtifact, FilesystemArtifactStore, findReusableArtifact, type BuildOptions } from '../src/artifacts';
import type { WorkerConfig } from '../src/config';
import { FailureType } from '../src/errors';
import type { ArtifactRef, DeployPlan } from '../src/workflows/types';
import { createGitRepo, NODE_BUILD_SCRIPT, type GitRepo } from './helpers/git-repo';

/**
 * The store is keyed by service and version; an artifact is reused only for the repository and the
 * commit it was built from.
 */

let scratch: string;
let real: GitRepo;
let impostor: GitRepo;

before(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'artifact-provenance-'));
  real = await createGitRepo([{ tag: '9.9.9', files: { 'build.js': NODE_BUILD_SCRIPT, 'src/server.js': "console.log('the real service');\n" } }], 'real-repo-');
  impostor = await createGitRepo([{ tag: '9.9.9', files: { 'build.js': NODE_BUILD_SCRIPT, 'src/server.js': "console.log('someone else');\n" } }], 'impostor-repo-');
});
after(async () => {
  await real.remove();
  await impostor.remove();
  await fs.rm(scratch, { recursive: true, force: true });
});

function options(repo: GitRepo, store: string): BuildOptions {
  return {
    service: 'hello-service',
    version: '9.9.9',
    repository: repo.dir,
    buildCommand: ['node', 'build.js'],
    outputs: ['dist'],
    migrationsDir: 'migrations',
    requiredConfig: [],
    storeDir: path.join(scratch, store),
    workDir: path.join(scratch, 'work'),
    timeoutMs: 120_000,
  };
}

function refusedWith(...patterns: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, FailureType.ArtifactConflict);
    assert.equal(err.nonRetryable, true);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  };
}

test('a version stored from another repository is not reused, nor overwritten by a build from this one', async () => {
  const store = path.join(scratch, 'store-repos');
  const staged = await buildArtifact(options(impostor, 'store-repos'));
  const recordFile = path.join(store, 'hello-service', '9.9.9.json');
  const recordBefore = await fs.readFile(recordFile, 'utf8');
  const impostorGit = await fs.realpath(path.join(impostor.dir, '.git'));
  const realGit = await fs.realpath(path.join(real.dir, '.git'));

  assert.equal((await findReusableArtifact(store, 'hello-service', '9.9.9', impostor.dir))?.sha256, staged.sha256, 'the same source reuses it');
  await assert.rejects(
    findReusableArtifact(store, 'hello-service', '9.9.9', real.dir),
    refusedWith(new RegExp(`from repository ${impostorGit}`), new RegExp(`from repository ${realGit}`)),
  );
  await assert.rejects(buildArtifact(options(real, 'store-repos')), refusedWith(new RegExp(impostorGit), new RegExp(realGit)));
  assert.equal(await fs.readFile(recordFile, 'utf8'), recordBefore, 'the stored record is unchanged');
});

test('a tag moved to another commit since the build is refused at reuse, naming both commits', async () => {
  const store = path.join(scratch, 'store-tag');
  const built = await buildArtifact(options(real, 'store-tag'));
  const first = real.commits['9.9.9']!;
  assert.equal(built.manifest.commit, first);
  const moved = await real.commit({ files: { 'src/server.js': "console.log('changed after the release');\n" } });
  await real.git('tag', '-f', '9.9.9', moved);
  await assert.rejects(findReusableArtifact(store, 'hello-service', '9.9.9', real.dir), refusedWith(new RegExp(first), new RegExp(moved), /tag moved/));
  await real.git('tag', '-f', '9.9.9', first);
  assert.equal((await findReusableArtifact(store, 'hello-service', '9.9.9', real.dir))?.sha256, built.sha256, 'with the tag back it is reused');
});

test("the build stage of a production deploy refuses the version a staging deploy stored from another repository", async () => {
  const dataDir = path.join(scratch, 'data-stage');
  const artifactStore = path.join(dataDir, 'artifacts');
  // Only the fields the build stage reads; the rest of a plan is irrelevant to it.
  const plan = (repo: GitRepo, environment: string) =>
    ({
      service: 'hello-service',
      environment,
      version: '9.9.9',
      kind: 'first',
      dataDir,
      artifactStore,
      source: { repository: repo.dir },
      build: { command: ['node', 'build.js'], outputs: ['dist'], timeoutMs: 120_000 },
      runtime: { command: ['node', 'dist/lib/server.js'], requiredConfig: [] },
      migrations: { directory: 'migrations', lockTimeoutMs: 1000, statementTimeoutMs: 1000 },
    }) as unknown as DeployPlan;
  // The worker's cache is the store here: a filesystem store on the data directory (one machine).
  const build = buildActivity({ config: { DEPLOY_DATA_DIR: dataDir } as WorkerConfig, cwd: scratch, artifacts: new FilesystemArtifactStore(artifactStore) } as unknown as ActivityDeps);
  const staging = (await new MockActivityEnvironment().run(build, { plan: plan(impostor, 'staging') })) as ArtifactRef;
  assert.equal(staging.reused, false);
  await assert.rejects(
    new MockActivityEnvironment().run(build, { plan: plan(real, 'production') }),
    refusedWith(/hello-service version 9\.9\.9 is already stored/, new RegExp(await fs.realpath(path.join(real.dir, '.git')))),
  );
  const again = (await new MockActivityEnvironment().run(build, { plan: plan(impostor, 'staging') })) as ArtifactRef;
  assert.equal(again.reused, true, 'the same repository and commit reuse it');
  assert.equal(again.sha256, staging.sha256);
});
