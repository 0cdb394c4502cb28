import { alterOfExistingTable, hasTopLevel, isWord, parseAddColumn, parseAddConstraint, quote } from '../shape';
import type { Rule, RuleHit } from '../types';

export const checkWithoutNotValid: Rule = {
  name: 'check-without-not-valid',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'adding a CHECK constraint to an existing table without NOT VALID',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const table = quote(alter.table.name);
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const constraint = parseAddConstraint(action);
      if (constraint?.kind === 'CHECK' && !hasTopLevel(constraint.body, 'NOT', 'VALID')) {
        hits.push({
          line: constraint.at.line,
          message:
            `adding a CHECK constraint scans all of ${table} under an ACCESS EXCLUSIVE lock, blocking reads and writes; ` +
            'add it with NOT VALID, then run ALTER TABLE ... VALIDATE CONSTRAINT ... in a later migration',
        });
      }
      const column = parseAddColumn(action);
      if (column && column.column.constraints.some((tok) => isWord(tok, 'CHECK'))) {
        hits.push({
          line: column.at.line,
          message:
            `ADD COLUMN ${quote(column.column.name)} ... CHECK scans all of ${table} under an ACCESS EXCLUSIVE lock, and a ` +
            'column constraint cannot be NOT VALID; add the column without CHECK, then ADD CONSTRAINT ... CHECK (...) NOT VALID, ' +
            'then VALIDATE CONSTRAINT in a later migration',
        });
      }
    }
    return hits;
  },
};
