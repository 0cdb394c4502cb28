import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FilesystemArtifactStore, localArtifactCache, openArtifactStore } from '../../src/artifacts/shared';
import { ConfigError, loadWorkerConfig } from '../../src/config';

/** DEPLOY_ARTIFACT_STORE and DEPLOY_ARTIFACT_DIR: validated with the rest of the worker's environment. */

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadWorkerConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

test('the artifact store defaults to PostgreSQL; the worker caches it in its data directory', () => {
  const config = loadWorkerConfig({});
  assert.equal(config.DEPLOY_ARTIFACT_STORE, 'postgres');
  assert.equal(config.DEPLOY_ARTIFACT_DIR, undefined);
  assert.equal(localArtifactCache(config, '/srv/worker'), '/srv/worker/.data/artifacts');
});

test('an unknown store kind, and a directory without the filesystem store, are refused by name without echoing values', () => {
  assert.deepEqual(problemsOf({ DEPLOY_ARTIFACT_STORE: 's3://bucket' }), ['DEPLOY_ARTIFACT_STORE: must be postgres or filesystem']);
  const problems = problemsOf({ DEPLOY_ARTIFACT_DIR: '/mnt/shared/artifacts' });
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^DEPLOY_ARTIFACT_DIR: only read when DEPLOY_ARTIFACT_STORE=filesystem/);
  assert.doesNotMatch(problems[0]!, /\/mnt\/shared/);
});

test('the filesystem store opens on the shared directory, or on the worker cache when none is named', async () => {
  const shared = await openArtifactStore(loadWorkerConfig({ DEPLOY_ARTIFACT_STORE: 'filesystem', DEPLOY_ARTIFACT_DIR: 'mnt/artifacts' }), '/srv/worker');
  assert.ok(shared instanceof FilesystemArtifactStore);
  assert.equal(shared.dir, path.resolve('/srv/worker/mnt/artifacts'));
  const own = await openArtifactStore(loadWorkerConfig({ DEPLOY_ARTIFACT_STORE: 'filesystem', DEPLOY_DATA_DIR: '/var/lib/deployer' }), '/srv/worker');
  assert.equal((own as FilesystemArtifactStore).dir, '/var/lib/deployer/artifacts');
});
