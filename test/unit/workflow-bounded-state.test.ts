import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { statusQuery } from '../../src/workflows/definitions';
import { LIMITS } from '../../src/workflows/deploy-state';
import { startWorkflowEnv, type WorkflowEnv } from './helpers/workflow-env';

// Whatever is sent to a deploy, what it keeps stays bounded: the status query under 1 MB, the result under
// 256 KB (the server terminates a run whose result passes 2 MB), and the deploy still ends normally.
let env: WorkflowEnv;
before(async () => {
  env = await startWorkflowEnv();
});
after(async () => {
  await env?.stop();
});

test('12 approve signals of 150 KB and 5,000 junk signals at a waiting gate: status < 1 MB, result < 256 KB, the deploy still completes', async () => {
  const handle = await env.start({ gates: [{ before: 'migrate', approvers: ['alice', 'bob'], quorum: 1, requesterMayApprove: false, timeoutMs: 3_600_000, signed: false }] });
  await env.waitFor(handle, (s) => s.status === 'awaiting_approval', 'awaiting approval');
  const big = 'x'.repeat(150 * 1024);
  for (let i = 0; i < 12; i++) {
    await handle.signal('approve', i % 2 ? { by: 'alice', comment: big } : { by: 'alice', [big.slice(0, 140 * 1024) + i]: 1 });
  }
  for (let i = 0; i < 5000; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => handle.signal((i + j) % 3 ? 'approve' : 'reject', { by: `junk${i + j}`, comment: `#${i + j}` })));
  }

  const s = await env.waitFor(handle, (v) => (v.refusalsNotRecorded ?? 0) + v.timeline.filter((t) => t.kind === 'signal_refused').length >= 5012, 'having seen every signal');
  const statusBytes = Buffer.byteLength(JSON.stringify(await handle.query(statusQuery)));
  assert.ok(statusBytes < 1024 * 1024, `status query is ${statusBytes} bytes`);
  assert.equal(s.timeline.filter((t) => t.kind === 'signal_refused').length, LIMITS.refusalEntries);
  assert.equal(s.refusalsNotRecorded, 5012 - LIMITS.refusalEntries);
  assert.ok(s.timeline.every((t) => (t.detail?.length ?? 0) <= LIMITS.detailChars + 40), 'details are clipped');
  assert.equal(s.pendingGate?.given, 0, 'no junk counted');

  await handle.signal('approve', { by: 'bob' });
  const { result, failed } = await env.outcome(handle);
  assert.equal(failed, false);
  assert.equal(result.outcome, 'succeeded');
  const resultBytes = Buffer.byteLength(JSON.stringify(result));
  assert.ok(resultBytes < 256 * 1024, `result is ${resultBytes} bytes`);
});
