import { alterOfExistingTable, isIdentifier, isWord, quote, readQualifiedName } from '../shape';
import type { Rule, RuleHit } from '../types';

/**
 * Checked on PostgreSQL 15 (test/lint-agrees-with-postgres.test.ts): DETACH PARTITION holds ACCESS EXCLUSIVE
 * on the parent and the partition; DETACH PARTITION ... CONCURRENTLY takes SHARE UPDATE EXCLUSIVE on the parent.
 */
export const detachPartitionWithoutConcurrently: Rule = {
  name: 'detach-partition-without-concurrently',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'ALTER TABLE ... DETACH PARTITION without CONCURRENTLY',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      if (!isWord(action[0], 'DETACH') || !isWord(action[1], 'PARTITION') || !isIdentifier(action[2])) continue;
      const partition = readQualifiedName(action, 2);
      if (!partition || isWord(action[partition.end], 'CONCURRENTLY', 'FINALIZE')) continue;
      const parent = quote(alter.table.name);
      hits.push({
        line: action[0]!.line,
        message:
          `DETACH PARTITION takes an ACCESS EXCLUSIVE lock on ${parent} and ${quote(partition.name)}, blocking every read and write ` +
          `of the partitioned table while it waits and runs; use ALTER TABLE ${parent} DETACH PARTITION ${quote(partition.name)} ` +
          'CONCURRENTLY (PostgreSQL 14+), alone in its own migration file; if it is interrupted, finish it with ... DETACH PARTITION ... FINALIZE',
      });
    }
    return hits;
  },
};
