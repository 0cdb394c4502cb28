import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { buildArtifact, PostgresArtifactStore, resolveArtifact, type BuildProgress, type ResolveArtifactOptions } from '../src/artifacts';
import { FailureType } from '../src/errors';
import { createGitRepo, createServiceRepo, NODE_BUILD_SCRIPT, type GitRepo } from './helpers/git-repo';
import { createTestDatabase, type TestDatabase } from './helpers/pg';

/**
 * The build stage on two replicas that share a PostgreSQL artifact store and keep caches of their own. A
 * version built on one is reused by the other (fetched by sha256, never rebuilt); an artifact missing
 * everywhere is rebuilt from its recorded commit and used only when it hashes to the recorded sha256,
 * otherwise refused naming both hashes.
 */

let db: TestDatabase;
let store: PostgresArtifactStore;
let scratch: string;
let repo: GitRepo;
/** A service whose build writes a random token: no two builds of it are the same bytes. */
let unreproducible: GitRepo;

before(async () => {
  db = await createTestDatabase('rebuild');
  store = await PostgresArtifactStore.open(db.url);
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'artifact-rebuild-'));
  repo = await createServiceRepo();
  unreproducible = await createGitRepo(
    [
      {
        tag: '1.0.0',
        files: {
          'build.js': `${NODE_BUILD_SCRIPT}\nfs.writeFileSync('dist/build-id', require('node:crypto').randomBytes(16).toString('hex'));\n`,
          'src/server.js': "console.log('built differently every time');\n",
        },
      },
    ],
    'unreproducible-repo-',
  );
});
after(async () => {
  await store?.close();
  await db?.drop();
  await repo?.remove();
  await unreproducible?.remove();
  await fs.rm(scratch, { recursive: true, force: true });
});

function replica(name: string, service: string, source: GitRepo, extra: Partial<ResolveArtifactOptions> = {}): ResolveArtifactOptions & { phases: BuildProgress['phase'][] } {
  const phases: BuildProgress['phase'][] = [];
  return {
    phases,
    store,
    cacheDir: path.join(scratch, name, 'artifacts'),
    workDir: path.join(scratch, name, 'work'),
    exact: false,
    service,
    version: '1.0.0',
    repository: source.dir,
    buildCommand: ['node', 'build.js'],
    outputs: ['dist'],
    migrationsDir: 'migrations',
    requiredConfig: [],
    timeoutMs: 120_000,
    onProgress: (p) => phases.push(p.phase),
    ...extra,
  };
}

const cachedBlob = (name: string, sha256: string) => path.join(scratch, name, 'artifacts', 'sha256', `${sha256}.tar.gz`);

async function fileSha256(file: string): Promise<string | null> {
  try {
    return createHash('sha256').update(await fs.readFile(file)).digest('hex');
  } catch {
    return null;
  }
}

/** The artifact gone from the store and from every cache named. */
async function loseEverywhere(sha256: string, ...replicas: string[]): Promise<void> {
  await db.query('DELETE FROM deploy_artifact_blobs WHERE sha256 = $1', [sha256]);
  for (const r of replicas) await fs.rm(cachedBlob(r, sha256), { force: true });
}

function refusedWith(type: string, ...patterns: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type);
    assert.equal(err.nonRetryable, true);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  };
}

test('a version built on one replica is reused on another: fetched into its cache by sha256, never rebuilt', async () => {
  const a = replica('a1', 'hello-service', repo);
  const built = await resolveArtifact(a);
  assert.equal(built.reused, false);
  assert.ok(a.phases.includes('build'));
  assert.equal(await store.has(built.sha256), true);
  assert.equal((await store.findVersion('hello-service', '1.0.0'))?.sha256, built.sha256);

  const b = replica('b1', 'hello-service', repo);
  assert.equal(await fileSha256(cachedBlob('b1', built.sha256)), null);
  const reused = await resolveArtifact(b);
  assert.equal(reused.sha256, built.sha256);
  assert.equal(reused.reused, true);
  assert.equal(reused.rebuilt, false);
  assert.equal(reused.path, cachedBlob('b1', built.sha256));
  assert.equal(await fileSha256(reused.path), built.sha256, "the second replica's cache holds the blob under its sha256");
  assert.deepEqual(b.phases.filter((p) => p !== 'store'), [], 'nothing was checked out or built on the second replica');
});

test('missing everywhere: rebuilt from the recorded commit, used because it hashes to the recorded sha256, and stored again', async () => {
  const recorded = (await store.findVersion('hello-service', '1.0.0'))!;
  await loseEverywhere(recorded.sha256, 'a1', 'b1');
  const b = replica('b1', 'hello-service', repo);
  const rebuilt = await resolveArtifact(b);
  assert.equal(rebuilt.rebuilt, true);
  assert.equal(rebuilt.sha256, recorded.sha256);
  assert.equal(await fileSha256(cachedBlob('b1', recorded.sha256)), recorded.sha256);
  assert.equal(await store.has(recorded.sha256), true, 'the store holds it again');

  // A rollback rebuilds from the recorded commit, not from where the tag points now.
  await loseEverywhere(recorded.sha256, 'b1');
  const moved = await repo.commit({ files: { 'src/server.js': "console.log('moved');\n" } });
  await repo.git('tag', '-f', '1.0.0', moved);
  try {
    const rollback = await resolveArtifact(replica('c1', 'hello-service', repo, { exact: true, registrySha256: recorded.sha256 }));
    assert.equal(rollback.rebuilt, true);
    assert.equal(rollback.sha256, recorded.sha256);
    assert.equal(rollback.manifest.commit, recorded.manifest.commit);
  } finally {
    await repo.git('tag', '-f', '1.0.0', recorded.manifest.commit);
  }
});

test('a rebuild that does not hash to the recorded sha256 is refused, naming both hashes, and nothing is kept', async () => {
  const first = await resolveArtifact(replica('a2', 'random-service', unreproducible));
  await loseEverywhere(first.sha256, 'a2');
  const b = replica('b2', 'random-service', unreproducible);
  let rebuiltSha = '';
  await assert.rejects(resolveArtifact(b), (err) => {
    refusedWith(FailureType.ArtifactConflict, new RegExp(`rebuilt from commit ${unreproducible.commits['1.0.0']} it hashes to [0-9a-f]{64}, not ${first.sha256}`), /rebuild is refused/)(err);
    rebuiltSha = /hashes to ([0-9a-f]{64})/.exec((err as Error).message)![1]!;
    return true;
  });
  assert.notEqual(rebuiltSha, first.sha256);
  assert.deepEqual(await fs.readdir(path.join(scratch, 'b2', 'artifacts', 'sha256')).catch(() => []), [], "nothing entered the second replica's cache");
  assert.equal(await store.has(first.sha256), false);
  assert.equal(await store.has(rebuiltSha), false);
  assert.equal((await store.findVersion('random-service', '1.0.0'))?.sha256, first.sha256, 'the record still names the bytes that were built');

  await assert.rejects(
    resolveArtifact(replica('c2', 'random-service', unreproducible, { exact: true, registrySha256: first.sha256 })),
    refusedWith(FailureType.RollbackRefused, /^rollback to 1\.0\.0/, new RegExp(`not ${first.sha256}`)),
  );
});

test('a rollback to a version only the release registry remembers is rebuilt, and used only when it matches the registry', async () => {
  // What the version builds to, learnt in a scratch store that is not shared.
  const expected = await buildArtifact({ ...replica('probe', 'legacy-service', repo), storeDir: path.join(scratch, 'probe', 'artifacts') });
  const refusedNoSha = replica('a3', 'legacy-service', repo, { exact: true, registrySha256: null });
  await assert.rejects(resolveArtifact(refusedNoSha), refusedWith(FailureType.RollbackRefused, /names no sha256 for it/, /rebuild is refused/));
  assert.equal(refusedNoSha.phases.includes('build'), false, 'nothing was built');

  const other = 'f'.repeat(64);
  await assert.rejects(
    resolveArtifact(replica('a3', 'legacy-service', repo, { exact: true, registrySha256: other })),
    refusedWith(FailureType.RollbackRefused, new RegExp(`hashes to ${expected.sha256}, not ${other}`)),
  );
  assert.equal(await store.findVersion('legacy-service', '1.0.0'), null, 'a refused rebuild records nothing');

  const used = await resolveArtifact(replica('a3', 'legacy-service', repo, { exact: true, registrySha256: expected.sha256 }));
  assert.equal(used.sha256, expected.sha256);
  assert.equal(used.rebuilt, true);
  assert.equal((await store.findVersion('legacy-service', '1.0.0'))?.sha256, expected.sha256, 'the store records it from now on');
});
