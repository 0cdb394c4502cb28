import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from '../src/registry/registry';
import { createTestDatabase, type TestDatabase } from './helpers/pg';

/**
 * The release registry's side of stop and undeploy, on a real PostgreSQL: a registry created before
 * undeploys existed is upgraded in place; an undeploy ends the live release once, however often it is
 * retried, and wipes the slate for the next deploy's plan; a stop keeps the release live and says since when
 * it is stopped.
 */

let db: TestDatabase;
const SHA = 'a'.repeat(64);

before(async () => {
  db = await createTestDatabase('stops');
  // The table as registries created before this change have it: its status check knows no 'undeployed'.
  await db.query(`CREATE TABLE deploy_releases (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, service text NOT NULL, environment text NOT NULL, version text NOT NULL,
    artifact_sha256 text, status text NOT NULL CHECK (status IN ('live','superseded','rolled_back','failed','rejected','cancelled')),
    requested_by text NOT NULL, approvals jsonb NOT NULL DEFAULT '[]', workflow_id text NOT NULL, run_id text NOT NULL, health jsonb,
    created_at timestamptz NOT NULL DEFAULT now(), live_at timestamptz, ended_at timestamptz, UNIQUE (workflow_id, run_id))`);
});
after(async () => {
  await db?.drop();
});

async function deployed(registry: Registry, version: string, runId: string): Promise<void> {
  await registry.markDeployed({ service: 'svc', environment: 'staging', version, artifactSha256: SHA, requestedBy: 'carol', approvals: [], workflowId: 'deploy-svc-staging', runId });
}

const who = (runId: string) => ({ service: 'svc', environment: 'staging', requestedBy: 'alice', reason: 'retired', workflowId: 'deploy-svc-staging', runId });

test('an older registry is upgraded in place: an undeploy ends the live release once, even when retried', async () => {
  const registry = await Registry.open(db.url);
  try {
    await deployed(registry, '1.0.0', 'run-1');
    await deployed(registry, '1.1.0', 'run-2');
    assert.deepEqual(await registry.markUndeployed(who('undeploy-1')), { version: '1.1.0', sha256: SHA });
    // An activity retry of the same run: the same answer, nothing more changed.
    assert.deepEqual(await registry.markUndeployed(who('undeploy-1')), { version: '1.1.0', sha256: SHA });
    assert.equal(await registry.live('svc', 'staging'), null);
    assert.deepEqual((await registry.history('svc', 'staging')).map((r) => `${r.version}:${r.status}`), ['1.1.0:undeployed', '1.0.0:superseded']);
    const stops = await registry.stops('svc', 'staging');
    assert.deepEqual(stops.map((s) => [s.action, s.version, s.requestedBy, s.reason, s.runId]), [['undeploy', '1.1.0', 'alice', 'retired', 'undeploy-1']]);
    // Both versions were live before the undeploy; after it, neither makes a deploy a rollback.
    assert.equal(await registry.lastLiveOf('svc', 'staging', '1.0.0'), null);
    assert.equal(await registry.lastLiveOf('svc', 'staging', '1.1.0'), null);
    // Undeploying what is already undeployed changes nothing and says so.
    assert.equal(await registry.markUndeployed(who('undeploy-2')), null);
  } finally {
    await registry.close();
  }
  // A second worker opening the upgraded registry changes nothing.
  const again = await Registry.open(db.url);
  await again.close();
});

test('a stop keeps the release live and is known until the next deploy of the service', async () => {
  const registry = await Registry.open(db.url);
  try {
    await deployed(registry, '1.0.0', 'run-3');
    const live = await registry.live('svc', 'staging');
    assert.equal(live?.version, '1.0.0');
    assert.equal(await registry.stoppedSince('svc', 'staging', live!.liveAt!), null);
    assert.deepEqual(await registry.recordStop(who('stop-1')), { version: '1.0.0', sha256: SHA });
    assert.equal((await registry.live('svc', 'staging'))?.version, '1.0.0', 'still live');
    assert.ok(await registry.stoppedSince('svc', 'staging', live!.liveAt!), 'stopped since it went live');
    assert.equal((await registry.lastLiveOf('svc', 'staging', '1.0.0'))?.runId, 'run-3', 'live after the undeploy: counts again');

    await deployed(registry, '1.0.0', 'run-4');
    const redeployed = await registry.live('svc', 'staging');
    assert.equal(await registry.stoppedSince('svc', 'staging', redeployed!.liveAt!), null, 'a new deploy is not stopped');
  } finally {
    await registry.close();
  }
});

test('a run that succeeds without a deploy step of its own (a redeploy of the stable release behind a front door) becomes the one live release', async () => {
  const registry = await Registry.open(db.url);
  try {
    await deployed(registry, '2.0.0', 'run-5');
    await registry.finalize({ service: 'svc', environment: 'staging', version: '2.0.0', artifactSha256: SHA, requestedBy: 'carol', outcome: 'succeeded', approvals: [], workflowId: 'deploy-svc-staging', runId: 'run-6' });
    const live = await registry.live('svc', 'staging');
    assert.equal(live?.runId, 'run-6');
    assert.ok(live?.liveAt, 'it went live when it was recorded');
    assert.equal((await registry.history('svc', 'staging')).find((r) => r.runId === 'run-5')?.status, 'superseded');
  } finally {
    await registry.close();
  }
});
