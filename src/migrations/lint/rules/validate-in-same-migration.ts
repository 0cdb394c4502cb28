import { identifierName, isIdentifier, isWord, parseAddConstraint, parseAlterTable, quote, sameTable } from '../shape';
import type { Rule, RuleHit } from '../types';

/**
 * NOT VALID only helps when validation runs in a later transaction: the ADD CONSTRAINT's lock is held until
 * commit, so a VALIDATE in the same file scans the table while writes are still blocked.
 */
export const validateInSameMigration: Rule = {
  name: 'validate-in-same-migration',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'VALIDATE CONSTRAINT in the same file that added the constraint NOT VALID',
  check(statement, context) {
    const alter = parseAlterTable(statement);
    if (!alter || context.isNewTable(alter.table.name)) return [];
    const addedEarlier = new Set<string>();
    for (const earlier of context.statements.slice(0, context.index)) {
      const earlierAlter = parseAlterTable(earlier);
      if (!earlierAlter || !sameTable(earlierAlter.table.name, alter.table.name)) continue;
      for (const action of earlierAlter.actions) {
        const added = parseAddConstraint(action);
        if (added?.name) addedEarlier.add(added.name);
      }
    }
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      if (!isWord(action[0], 'VALIDATE') || !isWord(action[1], 'CONSTRAINT') || !isIdentifier(action[2])) continue;
      const name = identifierName(action[2]!);
      if (!addedEarlier.has(name)) continue;
      hits.push({
        line: action[0]!.line,
        message:
          `VALIDATE CONSTRAINT ${quote(name)} runs in the same transaction that added it, so the lock taken by ADD CONSTRAINT ` +
          `is still held and ${quote(alter.table.name)} stays blocked for the whole scan; move the VALIDATE into a later migration file`,
      });
    }
    return hits;
  },
};
