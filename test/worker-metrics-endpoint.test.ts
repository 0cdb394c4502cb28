import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import type { WorkflowHandle } from '@temporalio/client';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import { parsePrometheusText, sampleValue, type PromSample } from './helpers/prometheus-text';
import { STAGE_WAIT_MS } from './helpers/workflow-probes';
import { rejectSignal } from '../src/workflows/definitions';

let world: DeployWorld;
let worker: ChildProcess;
let port: number;

function healthPort(child: ChildProcess): number {
  const m = /health on http:\/\/127\.0\.0\.1:(\d+)\/readyz/.exec(world.workerOutput(child));
  assert.ok(m, `no health port in the worker's output:\n${world.workerOutput(child)}`);
  return Number(m[1]);
}

async function scrape(): Promise<{ text: string; samples: PromSample[]; contentType: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return { text, samples: parsePrometheusText(text), contentType: res.headers.get('content-type') };
}

async function scrapeUntil(pred: (s: PromSample[]) => boolean, what: string): Promise<PromSample[]> {
  const deadline = Date.now() + STAGE_WAIT_MS;
  let last: PromSample[] = [];
  while (Date.now() < deadline) {
    last = (await scrape()).samples;
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}; last deploy_* samples:\n${last.filter((s) => s.name.startsWith('deploy_')).map((s) => JSON.stringify(s)).join('\n')}`);
}

/** Activity attempts per type from the deploys' histories: what the worker must have timed. */
async function attemptsByType(handles: WorkflowHandle[]): Promise<Map<string, { succeeded: number; failed: number }>> {
  const counts = new Map<string, { succeeded: number; failed: number }>();
  for (const h of handles) {
    const events = (await h.fetchHistory()).events ?? [];
    const typeOf = new Map<string, string>();
    const attempts = new Map<string, number>();
    const completed = new Set<string>();
    for (const e of events) {
      const id = String(e.eventId);
      if (e.activityTaskScheduledEventAttributes) typeOf.set(id, e.activityTaskScheduledEventAttributes.activityType!.name!);
      if (e.activityTaskStartedEventAttributes) attempts.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), e.activityTaskStartedEventAttributes.attempt!);
      if (e.activityTaskCompletedEventAttributes) completed.add(String(e.activityTaskCompletedEventAttributes.scheduledEventId));
    }
    for (const [scheduled, type] of typeOf) {
      const c = counts.get(type) ?? { succeeded: 0, failed: 0 };
      const n = attempts.get(scheduled) ?? 0;
      const ok = completed.has(scheduled) ? 1 : 0;
      c.succeeded += ok;
      c.failed += n - ok;
      counts.set(type, c);
    }
  }
  return counts;
}

before(async () => {
  world = await startDeployWorld();
  worker = await world.spawnWorker();
  port = healthPort(worker);
});
after(async () => {
  await world?.cleanup();
});

test('after a succeeded and a rolled-back staging deploy, /metrics counts both outcomes, times every stage attempt and serves temporal_* series', async (t) => {
  const good = await world.outcome(await world.deploy({ environment: 'staging', version: '1.0.0' }));
  assert.equal(good.status, 'succeeded');
  const bad = await world.outcome(await world.deploy({ environment: 'staging', version: '2.0.0' }));
  assert.equal(bad.status, 'rolled_back');

  const { text, samples, contentType } = await scrape();
  assert.match(contentType ?? '', /^text\/plain; version=0\.0\.4/);
  const staging = { service: 'hello-service', environment: 'staging' };
  assert.equal(sampleValue(samples, 'deploy_outcomes_total', { ...staging, outcome: 'succeeded' }), 1);
  assert.equal(sampleValue(samples, 'deploy_outcomes_total', { ...staging, outcome: 'rolled_back' }), 1);
  assert.equal(sampleValue(samples, 'deploy_outcomes_total', { ...staging, outcome: 'failed' }), undefined);
  assert.equal(sampleValue(samples, 'deploy_rollbacks_total', staging), 1);

  // Every attempt of a stage activity in the two histories, and nothing else, is in the stage histogram.
  // Both runs share the workflow ID (the deploy lock): each history is read by its run ID.
  const expected = await attemptsByType([good, bad].map((o) => world.client.workflow.getHandle(o.result.workflowId, o.result.runId)));
  assert.deepEqual(expected.get('validate'), { succeeded: 1, failed: expected.get('validate')!.failed }, 'one validate passed (1.0.0)');
  assert.ok(expected.get('validate')!.failed >= 1, '2.0.0 failed its validation');
  for (const stage of ['plan', 'build', 'preChecks', 'migrate', 'deploy', 'validate', 'rollbackDeploy']) {
    const want = expected.get(stage) ?? { succeeded: 0, failed: 0 };
    for (const result of ['succeeded', 'failed'] as const) {
      const count = sampleValue(samples, 'deploy_stage_duration_seconds_count', { stage, result }) ?? 0;
      assert.equal(count, want[result], `deploy_stage_duration_seconds_count{stage="${stage}",result="${result}"}`);
      const inf = sampleValue(samples, 'deploy_stage_duration_seconds_bucket', { stage, result, le: '+Inf' }) ?? 0;
      assert.equal(inf, count, `the +Inf bucket of ${stage}/${result} holds every observation`);
    }
  }
  assert.ok(sampleValue(samples, 'deploy_stage_duration_seconds_sum', { stage: 'validate', result: 'succeeded' })! > 0);
  assert.equal(sampleValue(samples, 'deploy_stage_duration_seconds_count', { stage: 'recordRelease' }), undefined, 'bookkeeping is no stage');

  // Nothing is in flight once both deploys ended.
  for (const status of ['running', 'awaiting_approval', 'needs_intervention']) {
    assert.equal(sampleValue(samples, 'deploy_in_flight', { status }), 0, `deploy_in_flight{status="${status}"}`);
  }

  // The SDK's own series, from the Runtime's exporter, with durations in seconds.
  const temporal = new Set(samples.filter((s) => s.name.startsWith('temporal_')).map((s) => s.name));
  for (const name of ['temporal_activity_execution_latency_count', 'temporal_workflow_completed', 'temporal_workflow_failed']) {
    assert.ok(temporal.has(name), `${name} missing; temporal_* names: ${[...temporal].sort().join(' ')}`);
  }
  assert.ok((sampleValue(samples, 'temporal_workflow_completed', { task_queue: 'deploys', workflow_type: 'deployRelease' }) ?? 0) >= 1, 'the succeeded deploy completed');
  assert.doesNotMatch(text, /unavailable/);
  t.diagnostic(`/metrics: ${text.length} bytes, ${samples.length} samples, ${temporal.size} temporal_* sample names`);
});

test('deploy_in_flight comes from visibility: a deploy at its gate is counted by a worker started after it, and its rejection records the approval wait', async () => {
  const gated = await world.deploy({ environment: 'production', version: '1.0.0', requestedBy: 'carol' });
  await world.waitForStatus(gated, (s) => s.status === 'awaiting_approval', STAGE_WAIT_MS);
  await scrapeUntil((s) => sampleValue(s, 'deploy_in_flight', { status: 'awaiting_approval' }) === 1, 'the gated deploy in deploy_in_flight');

  // A new worker process never saw this deploy start; it still counts it.
  worker.kill('SIGKILL');
  await new Promise((r) => worker.once('exit', r));
  worker = await world.spawnWorker();
  port = healthPort(worker);
  const fresh = (await scrape()).samples;
  assert.equal(sampleValue(fresh, 'deploy_in_flight', { status: 'awaiting_approval' }), 1);
  assert.equal(sampleValue(fresh, 'deploy_outcomes_total', { service: 'hello-service', environment: 'staging', outcome: 'succeeded' }), undefined, 'counters start again with the process');

  await gated.signal(rejectSignal, { by: 'bob', reason: 'metrics test', signature: await world.sign(gated, 'reject', 'bob') });
  assert.equal((await world.outcome(gated)).status, 'rejected');
  const production = { service: 'hello-service', environment: 'production' };
  const after = await scrapeUntil((s) => sampleValue(s, 'deploy_in_flight', { status: 'awaiting_approval' }) === 0, 'the gate to leave deploy_in_flight');
  assert.equal(sampleValue(after, 'deploy_outcomes_total', { ...production, outcome: 'rejected' }), 1);
  assert.equal(sampleValue(after, 'deploy_rollbacks_total', production), undefined, 'a rejection is no rollback');
  assert.equal(sampleValue(after, 'deploy_approval_wait_seconds_count', { ...production, decision: 'rejected' }), 1);
  assert.ok(sampleValue(after, 'deploy_approval_wait_seconds_sum', { ...production, decision: 'rejected' })! > 0, 'the gate waited a measurable time');
  assert.equal(sampleValue(after, 'deploy_approval_wait_seconds_count', { ...production, decision: 'approved' }), undefined);
});
