import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeDecisionStatement,
  describeRequestStatement,
  renderDecisionStatement,
  renderRequestStatement,
  requestAgeProblem,
  SIGNED_DECISIONS,
  StatementFieldError,
  type DecisionStatementFields,
  type RequestStatementFields,
} from '../src/trust/statement';

const decision: DecisionStatementFields = {
  workflowId: 'deploy-hello-service-production',
  runId: '0198c7a1-5b2e-7c41-9a0e-2f4f3c1d9e77',
  service: 'hello-service',
  environment: 'production',
  version: '1.1.0',
  artifactSha256: '4f5c2b7d9e0a1c3b5d7f9e1a3c5b7d9f0e2a4c6b8d0f1e3a5c7b9d1f3e5a7c9b',
  stage: 'migrate',
  decision: 'approve',
  signer: 'alice',
};

const request: RequestStatementFields = {
  workflowId: 'deploy-hello-service-production',
  service: 'hello-service',
  environment: 'production',
  version: '1.1.0',
  spec: 'examples/hello-service/deploy.yaml',
  requestedBy: 'carol',
  requestedAt: '2026-05-01T12:00:00Z',
};

/** Reads a rendered statement back into its fields: if this always recovers the input, rendering is injective. */
function parseStatement(text: string): { header: string; fields: Array<[string, string]> } {
  assert.ok(text.endsWith('\n'), 'a statement ends with a newline');
  const [header, ...lines] = text.slice(0, -1).split('\n');
  return {
    header,
    fields: lines.map((line) => {
      const at = line.indexOf(': ');
      assert.ok(at > 0, `line "${line}" is key: value`);
      return [line.slice(0, at), line.slice(at + 2)];
    }),
  };
}

describe('canonical statements', () => {
  test('a decision renders as a versioned header and one key: value per line, in a fixed order', () => {
    assert.equal(
      renderDecisionStatement(decision),
      'deploy-orchestrator decision v1\n' +
        'workflow-id: deploy-hello-service-production\n' +
        'run-id: 0198c7a1-5b2e-7c41-9a0e-2f4f3c1d9e77\n' +
        'service: hello-service\n' +
        'environment: production\n' +
        'version: 1.1.0\n' +
        'artifact-sha256: 4f5c2b7d9e0a1c3b5d7f9e1a3c5b7d9f0e2a4c6b8d0f1e3a5c7b9d1f3e5a7c9b\n' +
        'stage: migrate\n' +
        'decision: approve\n' +
        'signer: alice\n',
    );
    assert.match(renderDecisionStatement({ ...decision, artifactSha256: null }), /\nartifact-sha256: none\n/);
    // key order does not depend on the order of the input object's properties
    const reordered = Object.fromEntries(Object.entries(decision).reverse()) as unknown as DecisionStatementFields;
    assert.equal(renderDecisionStatement(reordered), renderDecisionStatement(decision));
  });

  test('a deploy request renders with its own header, so it can never be read as a decision', () => {
    assert.equal(
      renderRequestStatement(request),
      'deploy-orchestrator request v1\n' +
        'workflow-id: deploy-hello-service-production\n' +
        'service: hello-service\n' +
        'environment: production\n' +
        'version: 1.1.0\n' +
        'spec: examples/hello-service/deploy.yaml\n' +
        'requested-by: carol\n' +
        'requested-at: 2026-05-01T12:00:00Z\n',
    );
  });

  test('every decision renders to a different statement', () => {
    const texts = SIGNED_DECISIONS.map((d) => renderDecisionStatement({ ...decision, decision: d }));
    assert.equal(new Set(texts).size, SIGNED_DECISIONS.length);
  });

  const smuggled = ['1.1.0\nsigner: mallory', '1.1.0\r', 'a\u0000b', 'a\u001bb', '\u202e1.1.0', '1.1.0 ', ' 1.1.0', '', 'a'.repeat(300), 'a\u2028b', 'ａｌｉｃｅ'];
  const decisionFields: Array<keyof DecisionStatementFields> = ['workflowId', 'runId', 'service', 'environment', 'version', 'artifactSha256', 'stage', 'signer'];
  for (const field of decisionFields) {
    test(`decision field ${field} refuses line breaks, control, bidi and padding characters without echoing them`, () => {
      for (const value of smuggled) {
        assert.throws(
          () => renderDecisionStatement({ ...decision, [field]: value }),
          (err: Error) => {
            assert.ok(err instanceof StatementFieldError, String(err));
            assert.equal(err.field, field);
            assert.match(err.message, new RegExp(`^statement field ${field} `));
            if (value.length > 2) assert.ok(!err.message.includes(value), `the message echoes ${JSON.stringify(value)}`);
            return true;
          },
          `${field} = ${JSON.stringify(value)}`,
        );
      }
      assert.throws(() => renderDecisionStatement({ ...decision, [field]: 7 as unknown as string }), /must be a string/);
    });
  }

  test('request fields refuse the same, and a spec path may hold inner spaces but nothing unprintable', () => {
    for (const field of ['workflowId', 'service', 'environment', 'version', 'spec', 'requestedBy', 'requestedAt'] as const) {
      for (const value of ['x\nrequested-by: mallory', 'x\u0000', '\u202ex', ' x']) {
        assert.throws(() => renderRequestStatement({ ...request, [field]: value }), StatementFieldError, `${field} = ${JSON.stringify(value)}`);
      }
    }
    assert.match(renderRequestStatement({ ...request, spec: 'services/my service/deploy.yaml' }), /\nspec: services\/my service\/deploy\.yaml\n/);
    assert.throws(() => renderRequestStatement({ ...request, spec: 'services/é/deploy.yaml' }), /printable ASCII/);
  });

  test('a decision outside the closed set is refused', () => {
    for (const bad of ['approve ', 'APPROVE', 'intervene', 'intervene:later', 'rollback']) {
      assert.throws(() => renderDecisionStatement({ ...decision, decision: bad as DecisionStatementFields['decision'] }), /decision must be one of approve, reject, intervene:retry/);
    }
  });

  test('requestedAt must be a real UTC instant in ISO 8601', () => {
    for (const good of ['2026-05-01T12:00:00Z', '2026-05-01T12:00:00.123Z', '2028-02-29T23:59:59Z']) {
      assert.doesNotThrow(() => renderRequestStatement({ ...request, requestedAt: good }), good);
    }
    for (const bad of ['2026-05-01T12:00:00', '2026-05-01T12:00:00+02:00', '2026-02-30T12:00:00Z', '2026-05-01 12:00:00Z', '2026-05-01T24:00:00Z', '1714564800']) {
      assert.throws(() => renderRequestStatement({ ...request, requestedAt: bad }), /requestedAt/, bad);
    }
  });

  test('rendering is injective: 2,000 varied inputs read back exactly and give 2,000 different texts', () => {
    // a small deterministic generator: values drawn from edge cases of each field's alphabet
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const pick = <T>(items: readonly T[]) => items[next() % items.length];
    const pool = {
      workflowId: ['deploy-a-b', 'deploy-a-b-c', 'deploy-a:b', 'x.y_z'],
      runId: ['0198c7a1-5b2e', '0198c7a1-5b2f', 'a', 'A-1'],
      service: ['a', 'a-b', 'hello-service'],
      environment: ['b', 'b-c', 'production'],
      version: ['1', '1.0', '1.0.0', 'v1.0.0+build.1', '1_0'],
      artifactSha256: [null, '0'.repeat(64), 'f'.repeat(64)],
      stage: ['migrate', 'deploy', 'canary:step-2', 'preChecks'],
      decision: SIGNED_DECISIONS,
      signer: ['alice', 'alice@example.com', 'bob', 'a.b+c'],
    };
    const seen = new Map<string, string>();
    for (let i = 0; i < 2000; i++) {
      const fields = Object.fromEntries(Object.entries(pool).map(([k, values]) => [k, pick(values as readonly unknown[])])) as unknown as DecisionStatementFields;
      const text = renderDecisionStatement(fields);
      const parsed = parseStatement(text);
      assert.equal(parsed.header, 'deploy-orchestrator decision v1');
      const back = Object.fromEntries(parsed.fields);
      assert.deepEqual(
        [back['workflow-id'], back['run-id'], back.service, back.environment, back.version, back['artifact-sha256'], back.stage, back.decision, back.signer],
        [fields.workflowId, fields.runId, fields.service, fields.environment, fields.version, fields.artifactSha256 ?? 'none', fields.stage, fields.decision, fields.signer],
      );
      const key = JSON.stringify(fields);
      const earlier = seen.get(text);
      assert.ok(earlier === undefined || earlier === key, `two inputs gave the same statement:\n${earlier}\n${key}`);
      seen.set(text, key);
    }
  });

  test('descriptions say who decides what, for which release and where', () => {
    assert.equal(
      describeDecisionStatement(decision),
      'alice approves hello-service 1.1.0 for production at stage migrate ' +
        '(artifact sha256 4f5c2b7d9e0a1c3b5d7f9e1a3c5b7d9f0e2a4c6b8d0f1e3a5c7b9d1f3e5a7c9b; ' +
        'workflow deploy-hello-service-production, run 0198c7a1-5b2e-7c41-9a0e-2f4f3c1d9e77)',
    );
    assert.match(describeDecisionStatement({ ...decision, decision: 'reject' }), /^alice rejects hello-service 1\.1\.0 for production/);
    assert.match(describeDecisionStatement({ ...decision, decision: 'promote' }), /^alice promotes hello-service 1\.1\.0 in production/);
    assert.match(describeDecisionStatement({ ...decision, decision: 'intervene:skip' }), /^alice orders "skip" for the stuck deploy of hello-service 1\.1\.0 to production/);
    assert.match(describeDecisionStatement({ ...decision, artifactSha256: null }), /\(artifact not built yet;/);
    assert.equal(
      describeRequestStatement(request),
      'carol requests hello-service 1.1.0 in production from spec examples/hello-service/deploy.yaml, signed at 2026-05-01T12:00:00Z (workflow deploy-hello-service-production)',
    );
    assert.throws(() => describeDecisionStatement({ ...decision, signer: 'alice\nbob' }), StatementFieldError);
  });

  test('a signed request is fresh inside its window and refused when too old or dated ahead', () => {
    const at = Date.UTC(2026, 4, 1, 12, 0, 0);
    const limits = { maxAgeMs: 15 * 60_000, maxFutureSkewMs: 2 * 60_000 };
    assert.equal(requestAgeProblem('2026-05-01T12:00:00Z', at + 14 * 60_000, limits), null);
    assert.equal(requestAgeProblem('2026-05-01T12:00:00Z', at - 60_000, limits), null, 'a minute of clock skew is tolerated');
    assert.match(requestAgeProblem('2026-05-01T12:00:00Z', at + 16 * 60_000, limits) ?? '', /signed at 2026-05-01T12:00:00Z, more than 15 minutes ago; sign a fresh request/);
    assert.match(requestAgeProblem('2026-05-01T12:00:00Z', at - 10 * 60_000, limits) ?? '', /10 minutes in the future; check the signing machine's clock/);
    assert.match(requestAgeProblem('yesterday', at, limits) ?? '', /requestedAt must be an ISO 8601 UTC time/);
  });
});
