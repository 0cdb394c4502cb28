import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gateLines, oneLine, renderResult, renderStatusView, safeText, signedWhat, table } from '../../src/cli/format';
import type { DeployResult, DeployStatusView, SignatureProof, TimelineEntry } from '../../src/workflows/types';

/** Anything a terminal would act on rather than print: C0/C1 controls, ESC, bidi controls, zero-width marks. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/;

const HOSTILE = [
  'alice\x1b[2J\x1b[H', // clear the screen
  'bob\x1b]0;pwned\x07', // retitle the terminal (OSC)
  'carol\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\', // a hyperlink (OSC 8)
  'dave\u009b31mred', // the 8-bit CSI
  'eve\u202egnp.exe', // right-to-left override
  'frank\u2066hidden\u2069', // isolates
  'gina\r\napproved by alice', // a forged line
  'hank\u200b\ufeffzero', // zero-width and BOM
  'ivan\x1bPdevice control\x1b\\',
];

test('safeText removes escape sequences, controls, bidi and zero-width characters and keeps the visible text', () => {
  for (const s of HOSTILE) assert.doesNotMatch(safeText(s), UNSAFE, JSON.stringify(s));
  assert.equal(safeText('alice\x1b[2J\x1b[H'), 'alice');
  assert.equal(safeText('bob\x1b]0;pwned\x07'), 'bob');
  assert.equal(safeText('carol\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\'), 'carollink');
  assert.equal(safeText('dave\u009b31mred'), 'davered');
  assert.equal(safeText('eve\u202egnp.exe'), 'evegnp.exe');
  assert.equal(oneLine('gina\r\napproved by alice'), 'gina approved by alice');
  // Ordinary text, including non-ASCII letters and the marks the CLI itself prints, is kept as it is.
  assert.equal(safeText('Zoë approved — ✓ “looks good” 日本'), 'Zoë approved — ✓ “looks good” 日本');
});

const STATEMENT = [
  'deploy-orchestrator decision v1',
  'workflow-id: deploy-hello-service-production',
  'run-id: 0198c7a1-5b2e-7c41-9a0e-2f4f3c1d9e77',
  'service: hello-service',
  'environment: production',
  'version: 1.1.0',
  `artifact-sha256: ${'4f5c2b7d9e0a'.padEnd(64, '0')}`,
  'stage: migrate',
  'decision: approve',
  'signer: alice',
  '',
].join('\n');
const PROOF: SignatureProof = { signer: 'alice', fingerprint: 'SHA256:q4DG7ezSwqTfkWqxkcTy4kpJr1k4Mz6cbaWqOmzWmHo', keyType: 'ssh-ed25519', statement: STATEMENT };

function refusal(i: number, by: string, detail: string): TimelineEntry {
  return { at: `2026-05-01T12:0${i}:00.000Z`, kind: 'signal_refused', event: `approve by ${by} refused`, detail };
}

function waitingView(): DeployStatusView {
  return {
    workflowId: 'deploy-hello-service-production',
    service: 'hello-service',
    environment: 'production',
    version: '1.1.0',
    requestedBy: 'carol',
    status: 'awaiting_approval',
    stage: 'migrate',
    waitingFor: 'approval before migrate',
    pendingGate: {
      stage: 'migrate',
      approvers: ['alice', 'bob'],
      quorum: 2,
      approvals: [{ by: 'alice', at: '2026-05-01T12:05:00.000Z', via: 'update', comment: 'ok\x1b[31m\u202eevil', signature: PROOF }],
      given: 1,
      needed: 1,
      deadline: '2026-05-02T12:00:00.000Z',
      signed: true,
    },
    stages: [],
    timeline: [
      refusal(1, 'alice', 'approve before migrate must be signed by alice\'s key'),
      refusal(2, 'mallory', 'mallory is not an approver'),
      refusal(3, 'bob', 'signature refused: the key SHA256:abc is not listed for bob'),
      refusal(4, 'alice\x1b[2J', 'signature refused\r\napproved by bob (2/2)'),
      { at: '2026-05-01T12:05:00.000Z', kind: 'gate', stage: 'migrate', event: 'approved by alice (signed, key SHA256:q4DG…) (1/2)' },
    ],
  };
}

test('status shows each signed decision with signer, fingerprint and a short form of what was signed', () => {
  const text = renderStatusView(waitingView()).join('\n');
  assert.match(text, /approved by alice at 2026-05-01T12:05:00Z via update/);
  assert.match(
    text,
    /signed by alice with key SHA256:q4DG7ezSwqTfkWqxkcTy4kpJr1k4Mz6cbaWqOmzWmHo \(ssh-ed25519\): approve hello-service 1\.1\.0 → production at migrate \(artifact 4f5c2b7d9e0a…, run 0198c7a1…\)/,
  );
  assert.match(text, /decide with: deployctl approve\|reject hello-service --env production --by <you> --key/);
});

test('status shows refused decisions prominently: the count and the last three, each with who and why', () => {
  const lines = renderStatusView(waitingView());
  const head = lines.findIndex((l) => l.startsWith('⚠ 4 decision(s) REFUSED'));
  assert.ok(head >= 0 && head <= 2, `the refusals come right after the headline:\n${lines.join('\n')}`);
  assert.match(lines[head]!, /\(the last 3\)/);
  const shown = lines.slice(head + 1, head + 4);
  assert.match(shown[0]!, /12:02:00Z +approve by mallory refused — mallory is not an approver/);
  assert.match(shown[1]!, /approve by bob refused — signature refused: the key SHA256:abc is not listed for bob/);
  assert.match(shown[2]!, /approve by alice refused — signature refused approved by bob \(2\/2\)/);
  assert.ok(!lines[head + 4]?.startsWith('  20'), 'only the last three are listed');
});

test('no payload-derived text reaches the terminal with a control, escape or bidi character', () => {
  const view = waitingView();
  view.waitingFor = 'approval\x1b[8m hidden';
  view.stages = [{ stage: 'build', status: 'succeeded', startedAt: '2026-05-01T12:00:00.000Z', durationMs: 10, summary: 'artifact\x1b]0;x\x07 ok' }];
  view.pendingIntervention = { compensation: 'rollbackDeploy', error: 'disk\nfull\x1b[1A', since: '2026-05-01T12:00:00.000Z', operators: ['alice\u202e'], signed: true };
  view.pendingGate!.rejectedBy = { by: 'bob', at: '2026-05-01T12:06:00.000Z', reason: 'no\x07\x1b[5m' };
  const result: DeployResult = {
    workflowId: view.workflowId, runId: 'r', service: 'hello-service', environment: 'production', version: '1.1.0\x1b[31m', outcome: 'rejected',
    reason: 'rejected by bob: \u2066no\u2069', stages: view.stages, approvals: view.pendingGate!.approvals,
    compensations: [{ name: 'rollbackDeploy', undoes: 'deploy', status: 'skipped', by: 'alice\x1b[0m', at: '2026-05-01T12:00:00.000Z', signature: PROOF }],
    timeline: view.timeline,
  };
  const all = [
    ...renderStatusView(view),
    ...renderResult(result, { timelineTail: 10 }),
    ...gateLines(view.pendingGate!),
    ...table(['BY'], HOSTILE.map((h) => [h])),
  ];
  for (const line of all) assert.doesNotMatch(line, UNSAFE, JSON.stringify(line));
  for (const h of HOSTILE) assert.doesNotMatch(signedWhat(`${STATEMENT.replace('signer: alice', `signer: ${h}`)}`), UNSAFE);
});

test('a decision at a signed gate without a signature is marked, so an audit cannot miss it', () => {
  const view = waitingView();
  view.pendingGate!.approvals = [{ by: 'bob', at: '2026-05-01T12:05:00.000Z', via: 'signal' }];
  assert.match(gateLines(view.pendingGate!).join('\n'), /approved by bob at .* via signal — NOT SIGNED/);
  view.pendingGate!.signed = false;
  assert.match(gateLines(view.pendingGate!).join('\n'), /approved by bob at .* via signal \(not signed\)/);
});

test('a deploy refused at plan is headed by its workflow ID, not by an empty "→ :"', () => {
  const [head] = renderResult({ workflowId: 'deploy-hello-service-staging', runId: 'r', service: '', environment: '', version: '', outcome: 'failed', reason: 'deploy refused: spec x.yaml is invalid', stages: [], approvals: [], compensations: [], timeline: [] });
  assert.equal(head, 'deploy-hello-service-staging (refused before a plan existed): failed');
});
