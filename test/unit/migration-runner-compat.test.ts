import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRollbackCompatibility } from '../../src/migrations/compat';

test('a rollback target that ships every applied contract migration is compatible', () => {
  assert.deepEqual(
    checkRollbackCompatibility({ appliedContract: ['003_drop_name.sql'], targetMigrationIds: ['001_a.sql', '003_drop_name.sql'] }),
    { compatible: true, reasons: [] },
  );
});

test('expand migrations the target does not know do not block a rollback', () => {
  assert.deepEqual(checkRollbackCompatibility({ appliedContract: [], targetMigrationIds: ['001_a.sql'] }), { compatible: true, reasons: [] });
});

test('a target missing an applied contract migration is incompatible, with one reason per missing file', () => {
  const result = checkRollbackCompatibility({
    appliedContract: ['005_drop_legacy.sql', '003_drop_name.sql'],
    targetMigrationIds: ['001_a.sql', '003_drop_name.sql'],
  });
  assert.equal(result.compatible, false);
  assert.equal(result.reasons.length, 1);
  assert.match(result.reasons[0]!, /^contract migration 005_drop_legacy\.sql has run in the database but the rollback target does not ship it/);
});
