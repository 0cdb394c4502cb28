import { identifierName, isIdentifier, isValidateAction, parseAddConstraint, parseAlterTable, quote, sameTable, writeBlockingLock, alterActionBlocksWrites } from '../shape';
import type { Token } from '../../sql';
import type { Rule, RuleHit } from '../types';

/**
 * VALIDATE CONSTRAINT only helps when it scans without a stronger lock: on its own it takes SHARE UPDATE
 * EXCLUSIVE, but locks taken earlier in the same transaction are held until commit, and in one ALTER TABLE
 * the statement takes the strongest lock of its actions (checked on PostgreSQL 15: VALIDATE with DROP COLUMN
 * holds ACCESS EXCLUSIVE, test/lint-agrees-with-postgres.test.ts).
 */
export const validateInSameMigration: Rule = {
  name: 'validate-in-same-migration',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'VALIDATE CONSTRAINT after (or in one ALTER TABLE with) a statement of the same file that locked the table',
  check(statement, context) {
    const alter = parseAlterTable(statement);
    if (!alter || context.isNewTable(alter.table.name)) return [];
    const table = alter.table.name;
    const earlier = context.statements.slice(0, context.index);
    const addedEarlier = new Set<string>();
    for (const s of earlier) {
      const earlierAlter = parseAlterTable(s);
      if (!earlierAlter || !sameTable(earlierAlter.table.name, table)) continue;
      for (const action of earlierAlter.actions) {
        const added = parseAddConstraint(action);
        if (added?.name) addedEarlier.add(added.name);
      }
    }
    const locker = earlier.find((s) => {
      const locked = writeBlockingLock(s, context.isNewTable);
      return locked !== null && sameTable(locked, table);
    });
    const sibling = alter.actions.find((a) => !isValidateAction(a) && alterActionBlocksWrites(a));
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      if (!isValidateAction(action) || !isIdentifier(action[2])) continue;
      const name = quote(identifierName(action[2]!));
      const t = quote(table);
      let message: string | null = null;
      if (addedEarlier.has(identifierName(action[2]!))) {
        message =
          `VALIDATE CONSTRAINT ${name} runs in the same transaction that added it, so the lock taken by ADD CONSTRAINT ` +
          `is still held and ${t} stays blocked for the whole scan; move the VALIDATE into a later migration file`;
      } else if (sibling) {
        message =
          `VALIDATE CONSTRAINT ${name} shares its ALTER TABLE with ${describe(sibling)}, so the whole statement holds that action's ` +
          `lock (ACCESS EXCLUSIVE for most) and ${t} stays blocked for the whole scan; validate in an ALTER TABLE of its own, ` +
          'in a migration file of its own or before any statement that locks the table';
      } else if (locker) {
        message =
          `VALIDATE CONSTRAINT ${name} scans ${t} while the lock taken at line ${locker.line} is still held (locks last until ` +
          'the migration commits), so writes stay blocked for the whole scan; move the VALIDATE into a migration file of its own, ' +
          'or before the statement that locks the table';
      }
      if (message) hits.push({ line: action[0]!.line, message });
    }
    return hits;
  },
};

function describe(action: Token[]): string {
  return action
    .slice(0, 3)
    .map((t) => t.text)
    .join(' ');
}
