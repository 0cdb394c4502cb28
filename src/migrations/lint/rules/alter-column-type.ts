import { formatColumnType, parseColumnType, safeTypeChange } from '../column-types';
import { mentions, typeTokens } from '../schema';
import { alterOfExistingTable, hasTopLevel, identifierName, isIdentifier, isPunct, isWord, parseAlterColumn, quote, wordsAt } from '../shape';
import type { Token } from '../../sql';
import type { Rule, RuleHit } from '../types';

/**
 * A type change rewrites the table and its indexes under ACCESS EXCLUSIVE unless it is in the table of safe
 * changes (column-types.ts) and the column has no CHECK constraint (PostgreSQL re-checks those with a full
 * scan). The previous type must be known from the linted migrations; otherwise the change is refused.
 */
export const alterColumnType: Rule = {
  name: 'alter-column-type',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'ALTER COLUMN ... TYPE on an existing table, unless it is a change known not to rewrite (varchar(n) to text, a longer varchar, ...)',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const table = alter.table.name;
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const column = parseAlterColumn(action);
      if (!column) continue;
      const typeAt = isWord(column.rest[0], 'TYPE') ? 1 : wordsAt(column.rest, 0, 'SET', 'DATA', 'TYPE') ? 3 : -1;
      if (typeAt < 0) continue;
      const spec = column.rest.slice(typeAt);
      const to = parseColumnType(typeTokens(spec));
      const from = context.schema.column(table, column.column)?.type ?? null;
      const target = `${quote(table)}.${quote(column.column)}`;
      let why: string;
      if (!from || !to) {
        why = `the previous type of ${target} is not known from the migrations linted with this one, so it may rewrite the table`;
      } else {
        const safe = safeTypeChange(from, to, context.schema.isIndexed(table, column.column));
        const checked = context.schema.checksOn(table).find((c) => mentions(c.expression, column.column));
        if (safe && !checked && !changesValue(spec, column.column) && !hasTopLevel(spec, 'COLLATE')) continue;
        why = checked
          ? `${target} has a CHECK constraint${checked.name ? ` (${quote(checked.name)})` : ''}, which PostgreSQL re-checks by scanning the table`
          : `changing ${target} from ${formatColumnType(from)} to ${formatColumnType(to)} rewrites the table and its indexes`;
      }
      hits.push({
        line: column.at.line,
        message:
          `${why} under an ACCESS EXCLUSIVE lock, blocking reads and writes, and the old version may not read the new type; ` +
          'add a new column of the new type, write both from the new version, backfill in batches, switch readers, and drop the ' +
          'old column in a contract migration (changes that do not rewrite — varchar(n) to text or to a longer varchar, a larger ' +
          'numeric precision at the same scale, cidr to inet — pass when the column was created by a linted migration)',
      });
    }
    return hits;
  },
};

/** A USING clause other than `col`, `col::type` or `CAST(col AS type)` computes new values: a rewrite. */
function changesValue(spec: Token[], column: string): boolean {
  const using = spec.findIndex((tok) => isWord(tok, 'USING'));
  if (using < 0) return false;
  let e = spec.slice(using + 1);
  while (isPunct(e[0], '(') && isPunct(e.at(-1), ')')) e = e.slice(1, -1);
  if (isWord(e[0], 'CAST') && isPunct(e[1], '(')) e = [e[2]!, ...e.slice(3)];
  if (!isIdentifier(e[0]) || identifierName(e[0]) !== column) return true;
  const rest = e.slice(1);
  return !(rest.length === 0 || isPunct(rest[0], '::') || isWord(rest[0], 'AS'));
}
