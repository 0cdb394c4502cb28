import { alterOfExistingTable, parseAlterColumn, quote, wordsAt } from '../shape';
import type { Rule, RuleHit } from '../types';

/**
 * SET NOT NULL scans the table under ACCESS EXCLUSIVE unless a validated CHECK (col IS NOT NULL) proves it
 * (PostgreSQL 12+) or the column already is NOT NULL. Checked on PostgreSQL 15 with the table's seq_scan
 * count: test/lint-agrees-with-postgres.test.ts.
 */
export const setNotNull: Rule = {
  name: 'set-not-null',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'ALTER COLUMN ... SET NOT NULL on an existing table, unless a validated CHECK (col IS NOT NULL) exists',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const table = alter.table.name;
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const column = parseAlterColumn(action);
      if (!column || !wordsAt(column.rest, 0, 'SET', 'NOT', 'NULL')) continue;
      const { schema } = context;
      if (
        schema.column(table, column.column)?.notNull ||
        schema.hasValidatedNotNullCheck(table, column.column) ||
        schema.hasValidatedNotNullCheckByName(table, column.column)
      ) {
        continue;
      }
      const col = quote(column.column);
      hits.push({
        line: column.at.line,
        message:
          `SET NOT NULL on ${quote(table)}.${col} scans the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes; ` +
          `add CHECK (${col} IS NOT NULL) NOT VALID, run VALIDATE CONSTRAINT in a later migration, then SET NOT NULL in a ` +
          'migration after that (or after the VALIDATE in the same one): PostgreSQL 12+ skips the scan when the validated check exists',
      });
    }
    return hits;
  },
};
