import { createdEarlierInFile, hasTopLevel, isWord, quote, readQualifiedName, wordsAt } from '../shape';
import type { Rule } from '../types';

/**
 * Checked on PostgreSQL 15 (test/lint-agrees-with-postgres.test.ts): ALTER DOMAIN ... ADD CONSTRAINT, SET NOT
 * NULL and VALIDATE CONSTRAINT scan every column of the domain holding SHARE on its table, which blocks writes;
 * ADD CONSTRAINT ... NOT VALID scans nothing. A table CHECK validates under SHARE UPDATE EXCLUSIVE instead.
 */
export const alterDomainConstraint: Rule = {
  name: 'alter-domain-constraint',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'ALTER DOMAIN ... ADD CONSTRAINT without NOT VALID, SET NOT NULL or VALIDATE CONSTRAINT (each scans the tables using the domain)',
  check(statement, context) {
    const t = statement.tokens;
    if (!wordsAt(t, 0, 'ALTER', 'DOMAIN')) return [];
    const domain = readQualifiedName(t, 2);
    if (!domain || createdEarlierInFile(context.statements, context.index, 'DOMAIN', domain.name)) return [];
    const action = t.slice(domain.end);
    const d = quote(domain.name);
    const tableCheck =
      'for large tables enforce the rule with table CHECK constraints instead (ALTER TABLE ... ADD CONSTRAINT ... CHECK (...) NOT VALID, ' +
      'then VALIDATE CONSTRAINT in a later migration, which lets writes through)';
    let message: string | null = null;
    if (isWord(action[0], 'ADD') && !hasTopLevel(action, 'NOT', 'VALID')) {
      message =
        `ALTER DOMAIN ${d} ADD CONSTRAINT checks every column of type ${d}, holding SHARE on each table that uses it (blocking writes) ` +
        `while it scans; add it with NOT VALID (new values are checked at once) — VALIDATE CONSTRAINT on a domain scans under SHARE too, so ${tableCheck}`;
    } else if (wordsAt(action, 0, 'SET', 'NOT', 'NULL')) {
      message =
        `ALTER DOMAIN ${d} SET NOT NULL checks every column of type ${d}, holding SHARE on each table that uses it (blocking writes) ` +
        `while it scans; ${tableCheck}, then SET NOT NULL on those columns (see set-not-null)`;
    } else if (wordsAt(action, 0, 'VALIDATE', 'CONSTRAINT')) {
      message =
        `ALTER DOMAIN ${d} VALIDATE CONSTRAINT holds SHARE on every table with a column of type ${d} while it scans, blocking writes ` +
        `(unlike VALIDATE on a table constraint); ${tableCheck}, or acknowledge with -- lint-allow: alter-domain-constraint <the tables are small>`;
    }
    return message ? [{ line: statement.line, message }] : [];
  },
};
