import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { payloadSchemas } from '../../src/client/payload-schemas';
import { checkPayload, type PayloadName } from '../../src/workflows/payloads';
import { describeIssues } from '../../src/zod-issues';

// The workflow checks signal and update payloads by hand (no zod in the workflow bundle); clients hold zod
// schemas of the same payloads. Both must give the same verdict, the same data and the same message.

/** What the workflow recorded before the hand-written checks: zod's issues, one line per field. */
function zodVerdict(name: PayloadName, raw: unknown): { ok: true; data: unknown } | { ok: false; error: string } {
  const parsed = payloadSchemas[name].safeParse(raw);
  if (parsed.success) return { ok: true, data: parsed.data };
  return { ok: false, error: `${name}: ${describeIssues(parsed.error).map((line) => line.replace(/^\(root\)/, '(payload)')).join('; ')}` };
}

// Values a JSON payload field can hold, valid and not, for every rule.
const VALUES: Record<string, unknown[]> = {
  person: ['dave', 'alice@example.com', 'a.b_c+d-e', 'x'.repeat(64), 'x'.repeat(65), 'bad name', 'bоb', 'da\u200bve', '', '-dave', '$(touch x)', 'dave\u0000'],
  text: ['ship it', '', 'line 1\nline 2\ttab', 'x'.repeat(500), 'x'.repeat(501), 'a\u202eb', '\u001b]52;c;x\u0007', 'x'.repeat(600) + '\u200b', 'ok \u00e9 \u2192'],
  signature: ['-----BEGIN SSH SIGNATURE-----\nabc\n-----END SSH SIGNATURE-----', '', 'x'.repeat(8192), 'x'.repeat(8193)],
  action: ['retry', 'skip', 'abort', 'Retry', 'nope', ''],
  decision: ['approve', 'reject', 'approved', ''],
  wrongType: [7, 0, -1.5, true, false, null, [], ['dave'], {}, { by: 'dave' }],
};
const FIELDS: Record<PayloadName, Record<string, keyof typeof VALUES>> = {
  approve: { by: 'person', comment: 'text', signature: 'signature' },
  reject: { by: 'person', reason: 'text', comment: 'text', signature: 'signature' },
  intervene: { by: 'person', action: 'action', comment: 'text', signature: 'signature' },
  promote: { by: 'person', comment: 'text', signature: 'signature' },
  approval: { decision: 'decision', by: 'person', comment: 'text', signature: 'signature' },
};
const UNKNOWN_KEYS = ['quorum', 'By', '__proto__', 'constructor', '1', 'toString'];

/** A small deterministic generator, so a failure names a case that can be run again. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function* payloads(name: PayloadName, count: number, seed: number): Generator<unknown> {
  // Not objects at all.
  yield* ['dave', 7, true, null, undefined, [], [{ by: 'dave' }]];
  const next = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  for (let i = 0; i < count; i++) {
    // Built as JSON text and parsed, as the payload converter does (so "__proto__" is an own key).
    const entries: string[] = [];
    for (const [field, kind] of Object.entries(FIELDS[name])) {
      const r = next();
      if (r < 0.25) continue; // absent
      const value = r < 0.85 ? pick(VALUES[kind]!) : pick(VALUES.wrongType!);
      entries.push(`${JSON.stringify(field)}:${JSON.stringify(value)}`);
    }
    if (next() < 0.2) entries.push(`${JSON.stringify(pick(UNKNOWN_KEYS))}:${JSON.stringify(pick(VALUES.wrongType!))}`);
    if (next() < 0.05) entries.push(`${JSON.stringify(pick(UNKNOWN_KEYS))}:1`);
    if (next() < 0.3) entries.reverse();
    yield JSON.parse(`{${entries.join(',')}}`);
  }
}

for (const name of Object.keys(FIELDS) as PayloadName[]) {
  test(`${name}: the workflow's payload check agrees with the zod schema on 3000 payloads`, () => {
    let accepted = 0;
    let refused = 0;
    for (const raw of payloads(name, 3000, name.length * 7919)) {
      const mine = checkPayload(name, raw);
      const zods = zodVerdict(name, raw);
      assert.deepEqual(mine, zods, `payload ${JSON.stringify(raw)?.slice(0, 300)}`);
      if (mine.ok) accepted++;
      else refused++;
    }
    // Both outcomes were exercised.
    assert.ok(accepted > 50 && refused > 50, `accepted ${accepted}, refused ${refused}`);
  });
}

test('the messages operators see name the payload, the field and the rule', () => {
  const refusal = (name: PayloadName, raw: unknown) => {
    const r = checkPayload(name, raw);
    assert.equal(r.ok, false);
    return (r as { error: string }).error;
  };
  assert.equal(refusal('approve', 'dave'), 'approve: (payload): Invalid input: expected object, received string');
  assert.equal(refusal('approve', { by: 7 }), 'approve: by: Invalid input: expected string, received number');
  assert.equal(
    refusal('approve', { quorum: 0, by: 'bad name' }),
    'approve: by: must be a login or email (letters, digits, . _ @ + -; max 64); quorum: unknown field; remove it (or check its spelling)',
  );
  assert.equal(
    refusal('reject', { by: 'dave', comment: `${'x'.repeat(501)}\u0000` }),
    'reject: comment: must be at most 500 characters; comment: must not contain control, bidi or zero-width characters',
  );
  assert.equal(refusal('intervene', { by: 'dave', action: 'nope' }), 'intervene: action: Invalid option: expected one of "retry"|"skip"|"abort"');
  assert.equal(refusal('approval', {}), 'approval: decision: Invalid option: expected one of "approve"|"reject"; by: Invalid input: expected string, received undefined');
  assert.equal(refusal('approve', { by: 'dave', signature: 'x'.repeat(9000) }), 'approve: signature: must be an armored SSH signature (at most 8192 characters)');
  assert.deepEqual(checkPayload('reject', { by: 'dave', reason: 'broken', comment: 'see the ticket' }), { ok: true, data: { by: 'dave', reason: 'broken', comment: 'see the ticket' } });
});

test('the workflow bundle contains no zod (it would cost every worker memory; see BENCHMARKS.md)', async () => {
  const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const { code } = await bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../src/workflows/index.ts'), logger: quiet });
  const modules = [...code.matchAll(/^\/\*\*\*\/ "([^"]+)"/gm)].map((m) => m[1]!);
  assert.ok(modules.some((m) => m.includes('src/workflows/deploy-release.ts')), 'the bundle lists its modules');
  assert.deepEqual(
    modules.filter((m) => /node_modules\/zod\//.test(m)),
    [],
    'a module under src/workflows reaches zod: check payloads by hand there, as src/workflows/payloads.ts does',
  );
});
