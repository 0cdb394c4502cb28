import type { Token } from '../../sql';
import { alterOfExistingTable, isPunct, isWord, parseAddColumn, quote, skipParens } from '../shape';
import type { Rule, RuleHit } from '../types';

/**
 * Since PostgreSQL 11 ADD COLUMN with a non-volatile DEFAULT only records the value; a VOLATILE default
 * (or a serial/identity/stored generated column) must compute a value per row and rewrites the table under
 * an ACCESS EXCLUSIVE lock. now() and CURRENT_TIMESTAMP are STABLE, so they do not rewrite.
 */
const VOLATILE_FUNCTIONS = new Set([
  'random', 'random_normal', 'gen_random_uuid', 'uuidv4', 'uuidv7', 'uuid_generate_v1', 'uuid_generate_v1mc',
  'uuid_generate_v4', 'clock_timestamp', 'timeofday', 'nextval', 'setval', 'gen_random_bytes', 'gen_salt',
]);

/** Functions and function-like keywords known to be IMMUTABLE or STABLE. */
const NON_VOLATILE_FUNCTIONS = new Set([
  'now', 'statement_timestamp', 'transaction_timestamp', 'current_setting', 'lower', 'upper', 'trim', 'btrim',
  'ltrim', 'rtrim', 'concat', 'concat_ws', 'coalesce', 'nullif', 'greatest', 'least', 'length', 'substring',
  'replace', 'to_char', 'to_date', 'to_timestamp', 'to_number', 'date_trunc', 'make_interval', 'make_date',
  'jsonb_build_object', 'jsonb_build_array', 'json_build_object', 'json_build_array', 'to_jsonb', 'to_json',
  'array', 'row', 'cast', 'extract', 'abs', 'round', 'floor', 'ceil', 'md5', 'timezone', 'interval', 'timestamp',
  'timestamptz', 'numeric', 'decimal', 'varchar', 'char', 'character', 'varying', 'bit', 'time', 'float', 'double',
]);

const SERIAL_TYPES = new Set(['SERIAL', 'SERIAL2', 'SERIAL4', 'SERIAL8', 'SMALLSERIAL', 'BIGSERIAL']);

export const volatileDefault: Rule = {
  name: 'volatile-default',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'ADD COLUMN on an existing table with a volatile DEFAULT, a serial type, an identity or a stored generated column',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const table = quote(alter.table.name);
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const add = parseAddColumn(action);
      if (!add) continue;
      const column = quote(add.column.name);
      const cause = rewriteCause(add.column.type, add.column.constraints);
      if (!cause) continue;
      const alternative =
        cause.kind === 'unknown'
          ? `if ${cause.what} is IMMUTABLE or STABLE (SELECT provolatile FROM pg_proc WHERE proname = '${cause.what.replace(/\(\)$/, '')}'), acknowledge with -- lint-allow: volatile-default <why>; otherwise `
          : '';
      hits.push({
        line: add.at.line,
        message:
          `ADD COLUMN ${column} with ${cause.what} ${cause.kind === 'unknown' ? 'may rewrite' : 'rewrites'} all of ${table} ` +
          `under an ACCESS EXCLUSIVE lock, blocking reads and writes; ${alternative}add the column without the default (or with a constant one), ` +
          'SET DEFAULT afterwards for new rows, and backfill existing rows in batches',
      });
    }
    return hits;
  },
};

interface RewriteCause {
  what: string;
  kind: 'volatile' | 'unknown';
}

function rewriteCause(type: Token[], constraints: Token[]): RewriteCause | null {
  const typeName = type[0]?.upper;
  if (typeName && SERIAL_TYPES.has(typeName)) return { what: `type ${type[0]!.text} (a nextval() default)`, kind: 'volatile' };
  for (let i = 0; i < constraints.length; i++) {
    const tok = constraints[i]!;
    if (isWord(tok, 'GENERATED')) {
      const rest = constraints.slice(i + 1, i + 6);
      if (rest.some((r) => isWord(r, 'IDENTITY'))) return { what: 'GENERATED ... AS IDENTITY', kind: 'volatile' };
      if (constraints.slice(i + 1).some((r) => isWord(r, 'STORED'))) return { what: 'GENERATED ... STORED', kind: 'volatile' };
    }
    if (isWord(tok, 'DEFAULT')) {
      const call = riskiestCall(constraints, i + 1);
      if (call) return call;
    }
  }
  return null;
}

/** The first volatile (else unknown) function called in the DEFAULT expression starting at `from`. */
function riskiestCall(tokens: Token[], from: number): RewriteCause | null {
  let unknown: RewriteCause | null = null;
  let depth = 0;
  for (let i = from; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (isPunct(tok, '(')) depth++;
    else if (isPunct(tok, ')')) depth--;
    // The expression ends at the next column constraint.
    if (depth === 0 && isWord(tok, 'NOT', 'NULL', 'CHECK', 'UNIQUE', 'PRIMARY', 'REFERENCES', 'CONSTRAINT', 'GENERATED', 'COLLATE')) break;
    // A cast's type name (`::varchar(20)`, `AS numeric(10, 2)`) is not a call.
    if (isPunct(tok, '::') || isWord(tok, 'AS')) {
      while (isWord(tokens[i + 1])) i++;
      if (isPunct(tokens[i + 1], '(')) i = skipParens(tokens, i + 1) - 1;
      continue;
    }
    if ((tok.kind === 'word' || tok.kind === 'quoted_ident') && isPunct(tokens[i + 1], '(')) {
      const name = tok.kind === 'word' ? tok.text.toLowerCase() : tok.text.slice(1, -1);
      if (VOLATILE_FUNCTIONS.has(name)) return { what: `${name}()`, kind: 'volatile' };
      if (!NON_VOLATILE_FUNCTIONS.has(name)) unknown ??= { what: `${name}()`, kind: 'unknown' };
    }
  }
  return unknown;
}
