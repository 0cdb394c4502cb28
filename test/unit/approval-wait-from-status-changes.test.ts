import { test } from 'node:test';
import assert from 'node:assert/strict';
import { approvalWaits, type StatusChange } from '../../src/metrics/approval-waits';

const at = (s: number) => s * 1000;

test('an approved gate waits from awaiting_approval to running at the same stage', () => {
  const changes: StatusChange[] = [
    { atMs: at(0), status: 'running', stage: 'plan' },
    { atMs: at(5), status: 'running', stage: 'build' },
    { atMs: at(10), status: 'awaiting_approval', stage: 'migrate' },
    { atMs: at(70), status: 'running', stage: 'migrate' },
    { atMs: at(80), status: 'succeeded', stage: 'done' },
  ];
  assert.deepEqual(approvalWaits(changes, 'succeeded'), [{ stage: 'migrate', seconds: 60, decision: 'approved' }]);
});

test('a gate the deploy stopped at takes the outcome as its decision, whether compensation runs first or not', () => {
  const rejectedStraight: StatusChange[] = [
    { atMs: at(0), status: 'awaiting_approval', stage: 'migrate' },
    { atMs: at(30), status: 'rejected', stage: 'done' },
  ];
  assert.deepEqual(approvalWaits(rejectedStraight, 'rejected'), [{ stage: 'migrate', seconds: 30, decision: 'rejected' }]);
  const cancelledThenUndone: StatusChange[] = [
    { atMs: at(0), status: 'awaiting_approval', stage: 'deploy' },
    { atMs: at(12), status: 'running', stage: 'compensating' },
    { atMs: at(20), status: 'cancelled', stage: 'done' },
  ];
  assert.deepEqual(approvalWaits(cancelledThenUndone, 'cancelled'), [{ stage: 'deploy', seconds: 12, decision: 'cancelled' }]);
  // What recordRelease sees of a rejection: the outcome is recorded (an activity) before it is published.
  const rejectedAsRecorded: StatusChange[] = [
    { atMs: at(0), status: 'running', stage: 'preChecks' },
    { atMs: at(1), activity: true },
    { atMs: at(4), status: 'awaiting_approval', stage: 'migrate' },
    { atMs: at(64), activity: true },
  ];
  assert.deepEqual(approvalWaits(rejectedAsRecorded, 'rejected'), [{ stage: 'migrate', seconds: 60, decision: 'rejected' }]);
});

test('two gates give two waits; repeated upserts while waiting do not restart the clock; no gate gives none', () => {
  const changes: StatusChange[] = [
    { atMs: at(0), status: 'awaiting_approval', stage: 'migrate' },
    { atMs: at(3), status: 'awaiting_approval' },
    { atMs: at(10), status: 'running', stage: 'migrate' },
    { atMs: at(10), activity: true },
    { atMs: at(20), status: 'awaiting_approval', stage: 'validate' },
    { atMs: at(25), stage: 'validate', status: 'running' },
  ];
  assert.deepEqual(
    approvalWaits(changes, 'succeeded').map((w) => `${w.stage}:${w.seconds}:${w.decision}`),
    ['migrate:10:approved', 'validate:5:approved'],
  );
  assert.deepEqual(approvalWaits([{ atMs: 0, status: 'running', stage: 'plan' }, { atMs: 9, status: 'succeeded', stage: 'done' }], 'succeeded'), []);
});
