import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FrontDoor, startLoad, type LoadRun } from '../src/traffic';
import { promoteSignal } from '../src/workflows/definitions';
import { versionsIn } from './helpers/traffic';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';

// Staging as a canary behind a real HAProxy front door, with real releases of the example service and a
// steady loopback load on the public port: 1.0.0 → 1.1.0 moves 25% → 50% → 100% with analysis at each step
// (both versions answer meanwhile), the known-bad 2.0.0 never gets past its first weight and is switched
// back, and no request fails through any of it.
let world: DeployWorld;
let load: LoadRun | undefined;

before(async () => {
  world = await startDeployWorld({
    specOverrides: (spec) => {
      spec.environments.staging.strategy = {
        type: 'canary',
        steps: [{ setWeight: 25 }, { analysis: {} }, { setWeight: 50 }, { analysis: { against: 'frontDoor' } }],
        scaleDownDelaySeconds: 1,
      };
      spec.environments.production.strategy = { type: 'blueGreen', previewAnalysis: true, pauseForPromote: true, promoters: ['alice'], scaleDownDelaySeconds: 1 };
    },
  });
  await world.startWorker();
});

after(async () => {
  await load?.stop().catch(() => undefined);
  await world?.cleanup();
});

function frontDoorOf(): FrontDoor {
  return new FrontDoor({ name: 'hello-service-staging', publicPort: world.ports.staging, directory: path.join(world.targetRoot('staging'), 'front-door') });
}

test('first deploy behind the front door: 1.0.0 answers on the public port from its own internal port', async () => {
  const { status } = await world.outcome(await world.deploy({ environment: 'staging', version: '1.0.0' }));
  assert.equal(status, 'succeeded');
  const answer = await world.get('staging', '/');
  assert.equal(answer.status, 200);
  assert.equal(answer.body.version, '1.0.0');
  const fd = await frontDoorOf().status();
  assert.equal(fd.running, true);
  assert.equal(fd.recorded.length, 1);
  assert.notEqual(fd.recorded[0]!.port, world.ports.staging, 'the release listens on an internal port, not the public one');
  assert.ok(fd.matchesRecorded);
});

test('1.0.0 → 1.1.0 canary under load: both versions answer during the rollout, 1.1.0 after, and no request fails', async () => {
  load = startLoad({ url: `http://127.0.0.1:${world.ports.staging}/`, concurrency: 4, ratePerSecond: 150, requestTimeoutMs: 5_000 });
  const handle = await world.deploy({ environment: 'staging', version: '1.1.0' });
  const during = await world.waitForStatus(handle, (s) => s.traffic?.weight === 50);
  assert.equal(during.traffic?.strategy, 'canary');
  assert.equal(during.traffic?.steps, 4);
  load.phase('at-50');
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result.timeline.slice(-5)));
  load.phase('after');
  await new Promise((r) => setTimeout(r, 1_000));
  const report = await load.stop();
  load = undefined;
  assert.equal(report.failed, 0, `failed requests: ${JSON.stringify({ byStatus: report.byStatus, conn: report.connectionFailures, timeouts: report.timeouts })}`);
  const at50 = versionsIn(report.phases['at-50']!.byBody);
  assert.ok((at50['1.0.0'] ?? 0) > 0 && (at50['1.1.0'] ?? 0) > 0, `both versions answer at 50%: ${JSON.stringify(at50)}`);
  const afterwards = versionsIn(report.phases['after']!.byBody);
  assert.deepEqual(Object.keys(afterwards), ['1.1.0'], `only 1.1.0 answers after the rollout: ${JSON.stringify(afterwards)}`);
  const events = result.timeline.map((t) => t.event);
  assert.ok(events.some((e) => /step 1\/4: .* takes 25%/.test(e)) && events.some((e) => /step 3\/4: .* takes 50%/.test(e)), events.join('\n'));
  // After scaleDownDelay the replaced release is stopped and out of the front door.
  const fd = await frontDoorOf().status();
  assert.deepEqual(fd.recorded.map((s) => s.weight), [100]);
  assert.match(fd.recorded[0]!.name, /^r-1-1-0-/);
});

test('the known-bad 2.0.0 gets no more than its first weight, is switched back by analysis, and no request fails', async () => {
  load = startLoad({ url: `http://127.0.0.1:${world.ports.staging}/`, concurrency: 4, ratePerSecond: 150, requestTimeoutMs: 5_000 });
  const handle = await world.deploy({ environment: 'staging', version: '2.0.0' });
  const { status, result } = await world.outcome(handle);
  const report = await load.stop();
  load = undefined;
  assert.equal(status, 'rolled_back', JSON.stringify(result.timeline.slice(-6)));
  const weights = result.timeline.filter((t) => /takes \d+%/.test(t.event)).map((t) => t.event);
  assert.deepEqual(weights.map((e) => /takes (\d+)%/.exec(e)![1]), ['25'], `2.0.0 never got past its first weight: ${weights.join('; ')}`);
  assert.equal(report.failed, 0, `failed requests: ${JSON.stringify({ byStatus: report.byStatus, conn: report.connectionFailures, timeouts: report.timeouts })}`);
  const versions = versionsIn(report.byBody);
  assert.equal(versions['2.0.0'] ?? 0, 0, `2.0.0 answered no request successfully: ${JSON.stringify(versions)}`);
  const answer = await world.get('staging', '/');
  assert.equal(answer.body.version, '1.1.0');
  // The rollback was a switch: 1.1.0's process was never restarted.
  const compensation = result.compensations.find((c) => c.name === 'rollbackDeploy');
  assert.equal(compensation?.status, 'succeeded');
  const fd = await frontDoorOf().status();
  assert.deepEqual(fd.recorded.map((s) => s.weight), [100]);
  assert.match(fd.recorded[0]!.name, /^r-1-1-0-/);
  const runDir = await fs.readdir(path.join(world.targetRoot('staging'), 'run'));
  assert.ok(!runDir.some((f) => f.startsWith('2.0.0')), `2.0.0's process is stopped and forgotten: ${runDir.join(', ')}`);
});

test('production blue/green pauses before the switch: only a promote signed by a promoter\'s key switches traffic', async () => {
  const handle = await world.deploy({ environment: 'production', version: '1.1.0' });
  await world.waitForStatus(handle, (s) => s.pendingGate !== undefined, 120_000);
  await world.approve(handle, 'alice');
  const paused = await world.waitForStatus(handle, (s) => s.pendingPromotion !== undefined, 120_000);
  assert.equal(paused.pendingPromotion?.stage, 'deploy:switch');
  assert.equal(paused.pendingPromotion?.signed, true);
  assert.equal(paused.traffic?.weight, 0);
  const before = await world.get('production', '/').catch(() => ({ status: 0, body: null }));
  assert.notEqual(before.body?.version, '1.1.0', 'no request reaches the new release before the switch');

  await handle.signal(promoteSignal, { by: 'alice' }); // unsigned
  await handle.signal(promoteSignal, { by: 'mallory', signature: await world.sign(handle, 'promote', 'mallory').catch(() => 'x') });
  const refused = await world.waitForStatus(handle, (s) => s.timeline.filter((t) => t.kind === 'signal_refused').length >= 2);
  const reasons = refused.timeline.filter((t) => t.kind === 'signal_refused').map((t) => `${t.event}: ${t.detail}`);
  assert.ok(reasons.some((r) => /promote by alice refused: promote before deploy:switch must be signed by alice's key/.test(r)), reasons.join('\n'));
  assert.ok(reasons.some((r) => /promote by mallory refused: mallory may not promote/.test(r)), reasons.join('\n'));
  assert.ok((await world.status(handle)).pendingPromotion, 'still paused');

  await handle.signal(promoteSignal, { by: 'alice', comment: 'preview looks right', signature: await world.sign(handle, 'promote', 'alice') });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result.timeline.slice(-5)));
  assert.ok(result.timeline.some((t) => /^promoted at deploy:switch by alice \(signed, key SHA256:/.test(t.event)), JSON.stringify(result.timeline.map((t) => t.event)));
  assert.equal((await world.get('production', '/')).body.version, '1.1.0');
});

test('haproxy killed between deploys: the worker starts it again from its record within seconds, no deploy needed', async () => {
  const before = await frontDoorOf().status();
  assert.ok(before.running && before.pid);
  process.kill(before.pid!, 'SIGKILL');
  const deadline = Date.now() + 60_000;
  let after = await frontDoorOf().status();
  while (!(after.running && after.pid !== before.pid) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    after = await frontDoorOf().status();
  }
  assert.ok(after.running && after.pid !== before.pid, 'a new haproxy serves the front door');
  assert.ok(after.matchesRecorded, JSON.stringify(after));
  assert.equal((await world.get('staging', '/')).body.version, '1.1.0');
});
