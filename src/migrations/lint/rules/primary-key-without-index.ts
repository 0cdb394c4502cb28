import { alterOfExistingTable, hasTopLevel, isWord, parseAddColumn, parseAddConstraint, quote, wordsAt } from '../shape';
import type { Rule, RuleHit } from '../types';

export const primaryKeyWithoutIndex: Rule = {
  name: 'primary-key-without-index',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'ADD PRIMARY KEY on an existing table, which builds its index under a lock',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const table = quote(alter.table.name);
    const alternative =
      'make the key columns NOT NULL safely first (see set-not-null), create CREATE UNIQUE INDEX CONCURRENTLY (alone in its ' +
      'own migration file), then ALTER TABLE ... ADD CONSTRAINT <name> PRIMARY KEY USING INDEX <index> in a later migration';
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const constraint = parseAddConstraint(action);
      if (constraint?.kind === 'PRIMARY' && !hasTopLevel(constraint.body, 'USING', 'INDEX')) {
        hits.push({
          line: constraint.at.line,
          message: `ADD PRIMARY KEY builds a unique index on ${table} (and checks the columns for NULLs) under an ACCESS EXCLUSIVE lock; ${alternative}`,
        });
      }
      const column = parseAddColumn(action);
      const constraints = column?.column.constraints ?? [];
      if (column && constraints.some((tok, k) => isWord(tok, 'PRIMARY') && wordsAt(constraints, k + 1, 'KEY'))) {
        hits.push({
          line: column.at.line,
          message: `ADD COLUMN ${quote(column.column.name)} ... PRIMARY KEY rewrites ${table} and builds its index under an ACCESS EXCLUSIVE lock; add the column without PRIMARY KEY, backfill it, then ${alternative}`,
        });
      }
    }
    return hits;
  },
};
