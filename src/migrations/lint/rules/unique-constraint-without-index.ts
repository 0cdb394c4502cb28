import { alterOfExistingTable, hasTopLevel, isWord, parseAddColumn, parseAddConstraint, quote } from '../shape';
import type { Rule, RuleHit } from '../types';

export const uniqueConstraintWithoutIndex: Rule = {
  name: 'unique-constraint-without-index',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'ADD UNIQUE on an existing table, which builds its index under a lock',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const table = quote(alter.table.name);
    const alternative =
      'create the index first with CREATE UNIQUE INDEX CONCURRENTLY (alone in its own migration file), then ' +
      'ALTER TABLE ... ADD CONSTRAINT <name> UNIQUE USING INDEX <index> in a later migration';
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const constraint = parseAddConstraint(action);
      if (constraint?.kind === 'UNIQUE' && !hasTopLevel(constraint.body, 'USING', 'INDEX')) {
        hits.push({
          line: constraint.at.line,
          message: `ADD UNIQUE builds a unique index on ${table} while blocking writes to it; ${alternative}`,
        });
      }
      const column = parseAddColumn(action);
      if (column && column.column.constraints.some((tok) => isWord(tok, 'UNIQUE'))) {
        hits.push({
          line: column.at.line,
          message: `ADD COLUMN ${quote(column.column.name)} ... UNIQUE builds a unique index on ${table} while blocking writes to it; add the column without UNIQUE, then ${alternative}`,
        });
      }
    }
    return hits;
  },
};
