import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromExportedJson } from '../helpers/history-json';

// Recorded histories of the main scenarios (scripts/record-histories.ts) replayed against today's workflow
// code: a change that would break a deploy already running on a worker upgrade fails here, not in production.
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'histories');
// Three generations: before signed gates and the validated-release patch, after (`--as signed`), and with the
// summary memo (`--as summary`), which also has an undeployService history.
const REQUIRED = [...['success', 'approved', 'rollback', 'rejection', 'intervention', 'cancellation'].flatMap((n) => [n, `${n}-signed`, `${n}-summary`]), 'undeploy-summary', 'fleet', 'fleet-rollback'];
const WORKFLOW_TYPES = ['deployRelease', 'undeployService'];

async function fixtures(): Promise<Array<{ name: string; history: { events: Array<Record<string, any>> } }>> {
  const files = (await fs.readdir(FIXTURES)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (f) => {
      const text = await fs.readFile(path.join(FIXTURES, f), 'utf8');
      assert.ok(text.trim().length > 0, `${f} is empty`);
      return { name: path.basename(f, '.json'), history: JSON.parse(text) };
    }),
  );
}

test('every main scenario has a recorded deployRelease (or undeployService) history', async () => {
  const all = await fixtures();
  for (const name of REQUIRED) assert.ok(all.some((f) => f.name === name), `test/fixtures/histories/${name}.json is missing; run npx tsx scripts/record-histories.ts`);
  for (const { name, history } of all) {
    assert.ok(Array.isArray(history.events) && history.events.length > 0, `${name}: no events`);
    const type = history.events[0]!.workflowExecutionStartedEventAttributes?.workflowType?.name;
    assert.ok(WORKFLOW_TYPES.includes(type), `${name} is a ${type} history, not one of ${WORKFLOW_TYPES.join(', ')}`);
  }
});

test('today\'s workflow code replays every recorded history without a nondeterminism error', async () => {
  const all = await fixtures();
  const results = Worker.runReplayHistories(
    { workflowsPath: require.resolve('../../src/workflows') },
    all.map(({ history }) => ({ workflowId: recordedWorkflowId(history), history: historyFromExportedJson(history) })),
  );
  // Results arrive in the order the histories were given (several scenarios share a workflow ID).
  const replayed: string[] = [];
  for await (const r of results) {
    const name = all[replayed.length]!.name;
    assert.equal(r.workflowId, recordedWorkflowId(all[replayed.length]!.history));
    assert.equal(r.error, undefined, `${name} no longer replays: ${r.error?.message ?? ''}\nSee CONTRIBUTING.md (patched) before changing workflow code.`);
    replayed.push(name);
  }
  assert.deepEqual(replayed.sort(), all.map((f) => f.name).sort());
});

/**
 * The workflow ID the history was recorded under (the plan activity's input carries it). Replay must use it:
 * signed decisions bind the workflow ID, so a signature replayed under another ID would, rightly, not verify.
 * Histories get a unique suffix so that two generations of one scenario replay side by side.
 */
function recordedWorkflowId(history: { events: Array<Record<string, any>> }): string {
  const plan = history.events.find((e) => ['plan', 'planUndeploy'].includes(e.activityTaskScheduledEventAttributes?.activityType?.name));
  const payload = plan?.activityTaskScheduledEventAttributes?.input?.payloads?.[0]?.data;
  const id = payload ? (JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { workflowId?: string }).workflowId : undefined;
  return id ?? 'replay-without-plan';
}
