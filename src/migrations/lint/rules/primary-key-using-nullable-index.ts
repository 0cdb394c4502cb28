import { alterOfExistingTable, findTopLevel, identifierName, isIdentifier, parseAddConstraint, quote } from '../shape';
import type { Rule, RuleHit } from '../types';

/**
 * Checked on PostgreSQL 15 (test/lint-agrees-with-postgres.test.ts): ADD PRIMARY KEY USING INDEX silently sets
 * NOT NULL on the index's columns, scanning the table under ACCESS EXCLUSIVE, unless they already are NOT NULL
 * or a validated CHECK (col IS NOT NULL) proves it.
 */
export const primaryKeyUsingNullableIndex: Rule = {
  name: 'primary-key-using-nullable-index',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'ADD PRIMARY KEY USING INDEX whose columns are not known to be NOT NULL',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const table = alter.table.name;
    const { schema } = context;
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const constraint = parseAddConstraint(action);
      if (constraint?.kind !== 'PRIMARY') continue;
      const using = findTopLevel(constraint.body, 'USING', 'INDEX');
      if (using < 0 || !isIdentifier(constraint.body[using + 2])) continue;
      const indexName = identifierName(constraint.body[using + 2]!);
      const index = schema.index(indexName);
      const provenNotNull = (column: string) =>
        schema.column(table, column)?.notNull === true || schema.hasValidatedNotNullCheck(table, column);
      const columns = index?.columns ?? null;
      if (columns && columns.every(provenNotNull)) continue;
      const nullable = columns?.filter((c) => schema.column(table, c)?.notNull === false && !provenNotNull(c)) ?? [];
      const safeWay =
        'make the columns NOT NULL without the long lock first: ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, VALIDATE ' +
        'CONSTRAINT in a later migration, SET NOT NULL after that (see set-not-null), then add the primary key';
      const message =
        nullable.length > 0
          ? `ADD PRIMARY KEY USING INDEX ${quote(indexName)} sets NOT NULL on the nullable ${nullable.map((c) => `${quote(table)}.${quote(c)}`).join(', ')}, ` +
            `scanning the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes; ${safeWay}`
          : `ADD PRIMARY KEY USING INDEX ${quote(indexName)} sets NOT NULL on the index's columns, scanning the whole of ` +
            `${quote(table)} under an ACCESS EXCLUSIVE lock when one is nullable, and the linted migrations do not show them NOT NULL; ` +
            `${safeWay} — or, if they already are NOT NULL, acknowledge with -- lint-allow: primary-key-using-nullable-index <how you know>`;
      hits.push({ line: constraint.at.line, message });
    }
    return hits;
  },
};
