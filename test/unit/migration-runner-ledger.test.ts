import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyAgainstLedger, type LedgerRow } from '../../src/migrations/ledger';
import { migration } from '../fixtures/migrations/factory';

function row(file: { id: string; checksum: string; phase: 'expand' | 'contract' }, state: LedgerRow['state'] = 'applied'): LedgerRow {
  return {
    id: file.id,
    checksum: file.checksum,
    phase: file.phase,
    state,
    startedAt: new Date('2024-01-01T00:00:00Z'),
    finishedAt: state === 'applied' ? new Date('2024-01-01T00:00:01Z') : null,
    durationMs: state === 'applied' ? 1000 : null,
    workflowId: 'deploy-x-staging',
  };
}

const a = migration('001_a.sql', 'CREATE TABLE a (id int);');
const b = migration('002_b.sql', 'CREATE TABLE b (id int);');
const c = migration('003_c.sql', 'ALTER TABLE a DROP COLUMN id;', { phase: 'contract' });
const d = migration('004_d.sql', 'CREATE TABLE d (id int);');

test('a ledger matching the files has no problems', () => {
  assert.deepEqual(verifyAgainstLedger([row(a), row(b)], [a, b, c, d]), []);
});

test('an applied file whose checksum changed is a problem naming the file', () => {
  const edited = migration('001_a.sql', 'CREATE TABLE a (id bigint);');
  const problems = verifyAgainstLedger([row(a)], [edited]);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^migration 001_a\.sql: it was applied with checksum .* new migration file$/);
});

test('a pending expand file sorting before an applied one is a problem naming both', () => {
  const problems = verifyAgainstLedger([row(a), row(d)], [a, b, d]);
  assert.deepEqual(problems.length, 1);
  assert.match(problems[0]!, /^migration 002_b\.sql \(expand\) is pending but sorts before 004_d\.sql \(expand\), already applied/);
});

test('a pending contract file may lag behind applied expand files, but not behind an applied contract file', () => {
  assert.deepEqual(verifyAgainstLedger([row(a), row(b), row(d)], [a, b, c, d]), []);
  const laterContract = migration('005_e.sql', 'DROP TABLE b;', { phase: 'contract' });
  const problems = verifyAgainstLedger([row(a), row(b), row(d), row(laterContract)], [a, b, c, d, laterContract]);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^migration 003_c\.sql \(contract\) is pending but sorts before 005_e\.sql \(contract\)/);
});

test("a 'started' row is a problem for a transactional file and for a changed file, not for an unchanged non-transactional one", () => {
  const index = migration('002_b.sql', 'CREATE INDEX CONCURRENTLY b_idx ON a (id);', { transactional: false });
  assert.deepEqual(verifyAgainstLedger([row(a), row(index, 'started')], [a, index]), []);
  const asTransactional = { ...index, transactional: true };
  assert.match(verifyAgainstLedger([row(a), row(index, 'started')], [a, asTransactional])[0]!, /^migration 002_b\.sql: the ledger marks it 'started'/);
  const changed = migration('002_b.sql', 'CREATE INDEX CONCURRENTLY b_idx2 ON a (id);', { transactional: false });
  assert.match(verifyAgainstLedger([row(a), row(index, 'started')], [a, changed])[0]!, /^migration 002_b\.sql: a run that did not finish/);
});

test('applied ids the release does not ship are fine after its last file (a rollback) but not in the middle (history deleted)', () => {
  assert.deepEqual(verifyAgainstLedger([row(a), row(b), row(d)], [a, b]), []);
  const problems = verifyAgainstLedger([row(a), row(b), row(d)], [a, d]);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^migration 002_b\.sql: the ledger records it \(applied\) but this release does not ship it/);
});
