import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { interveneSignal } from '../src/workflows/definitions';
import type { AgentProcess } from './helpers/host-agents';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';

// Host agents that die: one killed with kill -9 in the middle of its host's deploy and started again (the
// deploy completes, nothing applied twice), and one that stays dead (its host fails by policy; the deploy
// never reports succeeded).
let world: DeployWorld;
const HOSTS = ['web-1', 'web-2', 'web-3', 'web-4', 'web-5', 'web-6'];
const agents = new Map<string, AgentProcess>();
let hostPorts: Record<string, number>;

before(async () => {
  world = await startDeployWorld({
    specOverrides: (spec) => {
      // An agent that does not answer within 10 s fails its host (the example allows a minute).
      spec.environments.fleet.target.hostTimeoutMs = 10_000;
    },
  });
  await world.startWorker();
  hostPorts = Object.fromEntries((world.spec.environments.fleet.target.hosts as Array<{ name: string; port: number }>).map((h) => [h.name, h.port]));
  for (const host of HOSTS) agents.set(host, await world.spawnAgents([host]));
  const { status, result } = await world.outcome(await world.deploy({ environment: 'fleet', version: '1.0.0' }));
  assert.equal(status, 'succeeded', JSON.stringify(result.timeline.slice(-4)));
});

after(async () => {
  await world?.cleanup();
});

async function versionOn(host: string): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${hostPorts[host]}/`, { signal: AbortSignal.timeout(3_000) });
    return ((await res.json()) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

/** Waits until the host's child workflow has a started hostDeploy (its agent is working on it). */
async function waitForHostDeployStarted(workflowId: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const d = await world.client.workflow.getHandle(workflowId).describe().catch(() => undefined);
    const pending = d?.raw.pendingActivities ?? [];
    if (pending.some((a) => a.activityType?.name === 'hostDeploy' && a.lastStartedTime)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${workflowId}: hostDeploy never started`);
}

test('an agent killed with kill -9 in the middle of its host deploy and started again: the deploy completes on a retried attempt of the same activity', async () => {
  const handle = await world.deploy({ environment: 'fleet', version: '1.1.0' });
  const hostWf = `${handle.workflowId}/batch-2/host-web-3`;
  await waitForHostDeployStarted(hostWf);
  await agents.get('web-3')!.kill9();
  await new Promise((r) => setTimeout(r, 1_000));
  agents.set('web-3', await world.spawnAgents(['web-3']));
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result.timeline.slice(-6), null, 1));
  for (const h of HOSTS) assert.equal(await versionOn(h), '1.1.0', h);
  // The host's history: hostDeploy completed once, on a later attempt than the one the kill cut off.
  const events = (await world.client.workflow.getHandle(hostWf).fetchHistory()).events ?? [];
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'hostDeploy');
  assert.equal(scheduled.length, 1, 'one hostDeploy activity, retried in place');
  const startedOf = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled[0]!.eventId))!;
  assert.ok((startedOf.activityTaskStartedEventAttributes!.attempt ?? 1) >= 2, 'the attempt the kill cut off was retried on the restarted agent');
  assert.ok(events.some((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled[0]!.eventId)), 'hostDeploy completed');
});

test('an agent dead for good: its host fails by policy after hostTimeoutMs, the rollout halts, and the deploy never reports succeeded', async () => {
  await agents.get('web-5')!.kill9();
  const handle = await world.deploy({ environment: 'fleet', version: '1.0.0' });
  // Batches 1 and 2 go to 1.0.0; in batch 3 web-5 never answers. Rolling back, web-5's agent cannot answer either.
  const stuck = await world.waitForStatus(handle, (s) => s.status === 'needs_intervention' || ['rolled_back', 'failed', 'succeeded'].includes(s.status), 180_000);
  assert.equal(stuck.status, 'needs_intervention');
  assert.match(stuck.pendingIntervention?.error ?? '', /web-5/);
  const rows = Object.fromEntries(stuck.fleet!.hosts.map((h) => [h.host, h.status]));
  assert.equal(rows['web-5'], 'rollback_failed');
  for (const h of ['web-1', 'web-2', 'web-3', 'web-4', 'web-6']) assert.equal(rows[h], 'rolled_back', h);
  // Every host whose agent answers is back on 1.1.0; web-5 never left it (its agent was dead all along).
  for (const h of HOSTS) assert.equal(await versionOn(h), '1.1.0', h);
  await handle.signal(interveneSignal, { by: 'carol', action: 'skip', comment: 'web-5 is being replaced' });
  const { status, result } = await world.outcome(handle);
  assert.notEqual(status, 'succeeded');
  assert.equal(status, 'rolled_back');
  assert.match(result.reason ?? '', /web-5/);
});
