import type { Token } from '../../sql';
import { isPunct, isWord, skipParens } from '../shape';
import type { Rule } from '../types';

/** Checked on PostgreSQL 15 (test/lint-agrees-with-postgres.test.ts): both take ACCESS EXCLUSIVE and rewrite the table. */
export const vacuumFullOrCluster: Rule = {
  name: 'vacuum-full-or-cluster',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'VACUUM FULL and CLUSTER, which rewrite tables under ACCESS EXCLUSIVE',
  check(statement) {
    const t = statement.tokens;
    let what: string | null = null;
    if (isWord(t[0], 'CLUSTER')) what = 'CLUSTER';
    else if (isWord(t[0], 'VACUUM') && (isWord(t[1], 'FULL') || (isPunct(t[1], '(') && fullOption(t.slice(2, skipParens(t, 1) - 1))))) what = 'VACUUM FULL';
    if (!what) return [];
    return [
      {
        line: statement.line,
        message:
          `${what} rewrites each table it touches under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite; ` +
          'do not run it from a migration: reclaim space online with pg_repack (or pg_squeeze), or rely on plain VACUUM, and use ' +
          'REINDEX CONCURRENTLY for bloated indexes',
      },
    ];
  },
};

/** `FULL`, `FULL true|on|1` among VACUUM's options; `FULL false|off|0` is not. */
function fullOption(options: Token[]): boolean {
  const at = options.findIndex((o) => isWord(o, 'FULL'));
  if (at < 0) return false;
  const value = options[at + 1];
  if (!value || isPunct(value, ',')) return true;
  const text = value.text.replace(/^'|'$/g, '').toLowerCase();
  return !['false', 'off', '0'].includes(text);
}
