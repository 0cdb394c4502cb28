import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refuseDecision } from '../../src/workflows/gates';
import type { GatePlan, GateState } from '../../src/workflows/types';

// The gate rules as a pure function: the signal handlers and the update validator both ask it.
const gate: GatePlan = { before: 'migrate', approvers: ['alice', 'bob'], quorum: 2, requesterMayApprove: false, timeoutMs: 60_000 };
const open = (approvals: string[] = []): GateState => ({
  stage: 'migrate', approvers: gate.approvers, quorum: 2, approvals: approvals.map((by) => ({ by, at: '', via: 'signal' as const })), given: approvals.length, needed: 2 - approvals.length, deadline: '',
});

test('no waiting gate refuses every decision', () => {
  assert.match(refuseDecision(undefined, undefined, 'carol', 'alice', 'approve')!, /no approval gate is waiting/);
  assert.match(refuseDecision(gate, { ...open(), decision: 'approved' }, 'carol', 'alice', 'approve')!, /no approval gate is waiting/);
});

test('only listed approvers count; an empty list means anyone but the requester', () => {
  assert.match(refuseDecision(gate, open(), 'carol', 'mallory', 'approve')!, /mallory is not an approver.*allowed: alice, bob/);
  assert.match(refuseDecision(gate, open(), 'carol', 'mallory', 'reject')!, /not an approver/);
  assert.equal(refuseDecision(gate, open(), 'carol', 'alice', 'approve'), null);
  assert.equal(refuseDecision({ ...gate, approvers: [] }, open(), 'carol', 'mallory', 'approve'), null);
});

test('the requester may neither approve nor reject unless the gate allows it', () => {
  assert.match(refuseDecision(gate, open(), 'alice', 'alice', 'approve')!, /alice requested this deploy and may not approve it/);
  assert.match(refuseDecision(gate, open(), 'alice', 'alice', 'reject')!, /may not reject it/);
  assert.equal(refuseDecision({ ...gate, requesterMayApprove: true }, open(), 'alice', 'alice', 'approve'), null);
});

test('a quorum counts distinct people: a repeated approval is refused, a rejection after an approval is not', () => {
  assert.match(refuseDecision(gate, open(['alice']), 'carol', 'alice', 'approve')!, /alice has already approved; the gate needs 2 distinct approvers/);
  assert.equal(refuseDecision(gate, open(['alice']), 'carol', 'alice', 'reject'), null);
  assert.equal(refuseDecision(gate, open(['alice']), 'carol', 'bob', 'approve'), null);
});
