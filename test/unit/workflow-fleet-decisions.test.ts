import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/activity';
import { NativeConnection, Worker } from '@temporalio/worker';
import { hostTaskQueue, type HostActivities } from '../../src/agent/contract';
import type { FleetTargetPlan } from '../../src/targets/fleet';
import { interveneSignal } from '../../src/workflows/definitions';
import { callsOf } from './helpers/stand-ins';
import { startWorkflowEnv, type WorkflowEnv } from './helpers/workflow-env';

// The fleet rollout's decisions with stand-in host agents (one worker per host task queue, in this
// process): batch order, the halt past maxFailedHosts, the reverse rollback through the agents, a host
// whose agent never answers, and that a fleet not all on the release never succeeds.

type HostBehaviour = 'ok' | 'failProbe' | 'failDeploy';
interface HostCall {
  host: string;
  op: 'deploy' | 'probe' | 'rollback';
  to?: string | null;
  at: number;
}

const behaviour = new Map<string, HostBehaviour>();
const hostCalls: HostCall[] = [];
const PREVIOUS = { releaseId: `0.9.0-${'b'.repeat(12)}`, version: '0.9.0', sha256: 'b'.repeat(64) };

function standInAgent(host: string): HostActivities {
  return {
    async hostDeploy(a) {
      hostCalls.push({ host, op: 'deploy', at: Date.now() });
      if (behaviour.get(host) === 'failDeploy') throw ApplicationFailure.nonRetryable(`${host}: the release did not start`, 'TargetFailed');
      return { host, releaseId: `${a.release.version}-${a.release.sha256.slice(0, 12)}`, noop: false, previous: PREVIOUS };
    },
    async hostProbe() {
      hostCalls.push({ host, op: 'probe', at: Date.now() });
      if (behaviour.get(host) === 'failProbe') throw ApplicationFailure.nonRetryable(`${host}: health analysis failed: 3 consecutive failures`, 'HealthCheckFailed');
      return { host, passed: true, reason: 'ok', samples: 1 };
    },
    async hostRollback(a) {
      hostCalls.push({ host, op: 'rollback', to: a.to?.version ?? null, at: Date.now() });
      return { host, restored: a.to };
    },
    async hostStatus() {
      return { host, current: PREVIOUS, running: true, agent: { version: 1, root: '/nonexistent' } };
    },
  };
}

let env: WorkflowEnv;
let connection: NativeConnection;
const agents: Array<{ worker: Worker; running: Promise<void> }> = [];
const HOSTS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
// h-dead has no agent at all: its queue never drains.

before(async () => {
  env = await startWorkflowEnv();
  connection = await NativeConnection.connect({ address: env.temporal.address });
  for (const host of HOSTS) {
    const worker = await Worker.create({ connection, taskQueue: hostTaskQueue(host), activities: standInAgent(host) });
    agents.push({ worker, running: worker.run() });
  }
});
after(async () => {
  for (const a of agents) a.worker.shutdown();
  await Promise.all(agents.map((a) => a.running.catch(() => undefined)));
  await connection?.close();
  await env?.stop();
});

function fleet(hosts: string[], o: Partial<FleetTargetPlan> = {}): FleetTargetPlan {
  return {
    type: 'fleet',
    root: '/nonexistent/fleet',
    hosts: hosts.map((name, i) => ({ name, port: 20_001 + i })),
    batchSize: 2,
    maxFailedHosts: 0,
    hostTimeoutMs: 3_000,
    drainTimeoutMs: 0,
    command: ['true'],
    keepReleases: 3,
    stopTimeoutMs: 1_000,
    startTimeoutMs: 1_000,
    frontDoor: { name: 'unit-fleet', port: 20_000, healthPath: '/readyz', checkIntervalMs: 500 },
    ...o,
  };
}

function callsSince(start: number): HostCall[] {
  return hostCalls.filter((c) => c.at >= start);
}

test('six hosts in batches of two: every host deployed and probed, batch by batch, then the release is live', async () => {
  behaviour.clear();
  const start = Date.now();
  const handle = await env.start({ target: fleet(HOSTS) });
  const { result, failed } = await env.outcome(handle);
  assert.equal(failed, false, JSON.stringify(result.timeline?.slice(-3)));
  assert.equal(result.outcome, 'succeeded');
  const calls = callsSince(start);
  assert.deepEqual(new Set(calls.filter((c) => c.op === 'deploy').map((c) => c.host)), new Set(HOSTS));
  assert.equal(calls.filter((c) => c.op === 'rollback').length, 0);
  // The next batch starts only after the current one passed: every probe of batch k before any deploy of batch k+1.
  const pairs: Array<[string[], string[]]> = [[['h1', 'h2'], ['h3', 'h4']], [['h3', 'h4'], ['h5', 'h6']]];
  for (const [k, next] of pairs) {
    const lastProbe = Math.max(...calls.filter((c) => c.op === 'probe' && k.includes(c.host)).map((c) => c.at));
    const firstDeploy = Math.min(...calls.filter((c) => c.op === 'deploy' && next.includes(c.host)).map((c) => c.at));
    assert.ok(lastProbe <= firstDeploy, `batch ${next.join('+')} started before ${k.join('+')} passed`);
  }
  assert.equal(result.fleet?.updated, 6);
  assert.equal(result.fleet?.failed, 0);
  assert.deepEqual(result.fleet?.hosts.map((h) => [h.host, h.status, h.batch]), HOSTS.map((h, i) => [h, 'updated', Math.floor(i / 2) + 1]));
  const parent = callsOf(handle.workflowId).map((c) => c.name);
  assert.deepEqual(parent.filter((n) => n.startsWith('fleet')), ['fleetPrepare', 'fleetRecordHosts', 'fleetRecordHosts', 'fleetRecordHosts', 'fleetMarkLive']);
  assert.ok(!parent.includes('deploy'), 'a fleet never runs the single-target deploy activity');
  // Per-host progress as Int search attributes: `temporal workflow list --query 'DeployHostsFailed > 0'`.
  const sa = (await handle.describe()).searchAttributes;
  assert.deepEqual([sa.DeployHostsTotal, sa.DeployHostsUpdated, sa.DeployHostsFailed], [[6], [6], [0]]);
  // Each batch and each host is a child workflow the Web UI lists.
  const batch = await env.client.workflow.getHandle(`${handle.workflowId}/batch-2`).describe();
  assert.equal(batch.type, 'deployFleetBatch');
  assert.equal(batch.parentExecution?.workflowId, handle.workflowId);
  const host = await env.client.workflow.getHandle(`${handle.workflowId}/batch-2/host-h3`).describe();
  assert.equal(host.type, 'deployFleetHost');
  assert.equal(host.status.name, 'COMPLETED');
});

test('a host failing its probe in the second batch halts the rollout; every touched host is rolled back, last first', async () => {
  behaviour.clear();
  behaviour.set('h3', 'failProbe');
  const start = Date.now();
  const handle = await env.start({ target: fleet(HOSTS) });
  const { result, failed } = await env.outcome(handle);
  assert.equal(failed, true);
  assert.equal(result.outcome, 'rolled_back');
  assert.match(result.reason ?? '', /1 host\(s\) failed, more than maxFailedHosts 0; the rollout halted after batch 2\/3: h3/);
  const calls = callsSince(start);
  assert.deepEqual(calls.filter((c) => c.op === 'deploy').map((c) => c.host).sort(), ['h1', 'h2', 'h3', 'h4'], 'batch 3 never started');
  assert.deepEqual(calls.filter((c) => c.op === 'rollback').map((c) => [c.host, c.to]), [['h4', '0.9.0'], ['h3', '0.9.0'], ['h2', '0.9.0'], ['h1', '0.9.0']]);
  assert.deepEqual(result.fleet?.hosts.map((h) => h.status), ['rolled_back', 'rolled_back', 'rolled_back', 'rolled_back', 'pending', 'pending']);
  assert.ok(callsOf(handle.workflowId).some((c) => c.name === 'fleetRestoreLive'));
  const sa = (await handle.describe()).searchAttributes;
  assert.deepEqual([sa.DeployHostsTotal, sa.DeployHostsFailed], [[6], [0]], 'the rolled back hosts no longer count as failed');
  assert.ok(!callsOf(handle.workflowId).some((c) => c.name === 'fleetMarkLive'));
});

test('tolerated failures let the rollout reach every host, but a fleet not all on the release never succeeds', async () => {
  behaviour.clear();
  behaviour.set('h2', 'failDeploy');
  const start = Date.now();
  const handle = await env.start({ target: fleet(HOSTS, { maxFailedHosts: 1 }) });
  const { result, failed } = await env.outcome(handle);
  assert.equal(failed, true);
  assert.equal(result.outcome, 'rolled_back');
  assert.match(result.reason ?? '', /1 of 6 host\(s\) are not on 1\.0\.0: h2/);
  const calls = callsSince(start);
  assert.equal(calls.filter((c) => c.op === 'deploy').length, 6);
  // h2 never reported what it ran: it is put back on what the fleet ran (pre-checks' view).
  assert.deepEqual(calls.filter((c) => c.op === 'rollback').map((c) => c.host), ['h6', 'h5', 'h4', 'h3', 'h2', 'h1']);
});

test('an agent that never answers fails its host by policy; its rollback cannot land either, so the deploy waits for an operator', async () => {
  behaviour.clear();
  const handle = await env.start({ target: fleet(['h1', 'h-dead', 'h3'], { batchSize: 2, hostTimeoutMs: 2_000 }) });
  const stuck = await env.waitFor(handle, (s) => s.status === 'needs_intervention', 'waiting for an operator');
  assert.match(stuck.pendingIntervention?.error ?? '', /h-dead/);
  assert.equal(stuck.fleet?.hosts.find((h) => h.host === 'h1')?.status, 'rolled_back');
  assert.equal(stuck.fleet?.hosts.find((h) => h.host === 'h-dead')?.status, 'rollback_failed');
  assert.equal(stuck.fleet?.hosts.find((h) => h.host === 'h3')?.status, 'pending', 'the second batch never started');
  await handle.signal(interveneSignal, { by: 'carol', action: 'skip', comment: 'h-dead is being replaced' });
  const { result } = await env.outcome(handle);
  assert.notEqual(result.outcome, 'succeeded');
  assert.equal(result.outcome, 'rolled_back');
});
