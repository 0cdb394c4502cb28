import { alterOfExistingTable, parseAddConstraint, quote } from '../shape';
import type { Rule, RuleHit } from '../types';

/**
 * Checked on PostgreSQL 15 (test/lint-agrees-with-postgres.test.ts): ADD ... EXCLUDE holds ACCESS EXCLUSIVE
 * while it builds its index and checks every row, and PostgreSQL refuses NOT VALID for it.
 */
export const exclusionConstraint: Rule = {
  name: 'exclusion-constraint',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'ADD ... EXCLUDE on an existing table',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const constraint = parseAddConstraint(action);
      if (constraint?.kind !== 'EXCLUDE') continue;
      hits.push({
        line: constraint.at.line,
        message:
          `ADD ... EXCLUDE builds its index and checks every row of ${quote(alter.table.name)} under an ACCESS EXCLUSIVE lock, ` +
          'blocking reads and writes, and an exclusion constraint cannot be added NOT VALID or USING INDEX; there is no ' +
          'non-blocking way: declare it on a new table (CREATE TABLE ... EXCLUDE ...) and move the data there, or for a small ' +
          'table acknowledge with -- lint-allow: exclusion-constraint <why the lock is short>',
      });
    }
    return hits;
  },
};
