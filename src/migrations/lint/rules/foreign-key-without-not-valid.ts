import { alterOfExistingTable, hasTopLevel, isWord, parseAddColumn, parseAddConstraint, quote } from '../shape';
import type { Rule, RuleHit } from '../types';

export const foreignKeyWithoutNotValid: Rule = {
  name: 'foreign-key-without-not-valid',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'adding a foreign key to an existing table without NOT VALID',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const table = quote(alter.table.name);
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const constraint = parseAddConstraint(action);
      if (constraint?.kind === 'FOREIGN' && !hasTopLevel(constraint.body, 'NOT', 'VALID')) {
        hits.push({
          line: constraint.at.line,
          message:
            `adding a foreign key checks every row of ${table} while holding a lock that blocks writes to both tables; ` +
            'add it with NOT VALID (ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID), then run ' +
            'ALTER TABLE ... VALIDATE CONSTRAINT ... in a later migration',
        });
      }
      const column = parseAddColumn(action);
      if (column && column.column.constraints.some((tok) => isWord(tok, 'REFERENCES'))) {
        hits.push({
          line: column.at.line,
          message:
            `ADD COLUMN ${quote(column.column.name)} ... REFERENCES on ${table} adds a validated foreign key under a lock that ` +
            'blocks writes to both tables, and a column constraint cannot be NOT VALID; add the column without REFERENCES, ' +
            'then ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in a later migration',
        });
      }
    }
    return hits;
  },
};
