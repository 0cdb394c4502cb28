/**
 * Column types as written in migrations, and the type changes PostgreSQL makes without rewriting the table
 * (after strong_migrations' table of safe changes). Each entry was checked on PostgreSQL 15: the table's
 * filenode and its seq_scan count stay the same (test/lint-agrees-with-postgres.test.ts).
 */
import type { Token } from '../sql';
import { isPunct, isWord } from './shape';

export interface ColumnType {
  /** Canonical name: `varchar`, `numeric`, `timestamptz`, ...; any other type lower-cased as written. */
  name: string;
  /** Type modifiers: `varchar(20)` → [20], `numeric(10,2)` → [10, 2]; [] when none. */
  modifiers: number[];
  array: boolean;
}

/** Multi-word and alias spellings → canonical name. */
const ALIASES: Record<string, string> = {
  'character varying': 'varchar',
  'char varying': 'varchar',
  varchar: 'varchar',
  text: 'text',
  citext: 'citext',
  numeric: 'numeric',
  decimal: 'numeric',
  'timestamp without time zone': 'timestamp',
  timestamp: 'timestamp',
  'timestamp with time zone': 'timestamptz',
  timestamptz: 'timestamptz',
  'time without time zone': 'time',
  time: 'time',
  'time with time zone': 'timetz',
  timetz: 'timetz',
  interval: 'interval',
  'bit varying': 'varbit',
  varbit: 'varbit',
  cidr: 'cidr',
  inet: 'inet',
  int: 'int4',
  integer: 'int4',
  int4: 'int4',
  bigint: 'int8',
  int8: 'int8',
  smallint: 'int2',
  int2: 'int2',
  'double precision': 'float8',
  float8: 'float8',
  real: 'float4',
  float4: 'float4',
  boolean: 'bool',
  bool: 'bool',
};

/**
 * Reads a type from its tokens (`character varying(20)`, `timestamp(3) without time zone`, `pg_catalog.text`,
 * `int[]`). Returns null for something that does not look like a type name.
 */
export function parseColumnType(tokens: Token[]): ColumnType | null {
  let t = tokens;
  if (isWord(t[0], 'PG_CATALOG') && isPunct(t[1], '.')) t = t.slice(2);
  if (t.length === 0 || (t[0]!.kind !== 'word' && t[0]!.kind !== 'quoted_ident')) return null;
  const words: string[] = [];
  const modifiers: number[] = [];
  let array = false;
  for (let i = 0; i < t.length; i++) {
    const tok = t[i]!;
    if (tok.kind === 'word') {
      if (tok.upper === 'ARRAY') array = true;
      else words.push(tok.text.toLowerCase());
    } else if (tok.kind === 'quoted_ident') {
      words.push(tok.text.slice(1, -1));
    } else if (isPunct(tok, '(')) {
      for (i++; i < t.length && !isPunct(t[i], ')'); i++) {
        if (t[i]!.kind === 'number') modifiers.push(Number(t[i]!.text));
        else if (!isPunct(t[i], ',')) return null;
      }
    } else if (isPunct(tok, '[')) {
      array = true;
      while (i < t.length && !isPunct(t[i], ']')) i++;
    } else {
      return null;
    }
  }
  const spelled = words.join(' ');
  return { name: ALIASES[spelled] ?? spelled, modifiers, array };
}

export function formatColumnType(type: ColumnType): string {
  return `${type.name}${type.modifiers.length ? `(${type.modifiers.join(',')})` : ''}${type.array ? '[]' : ''}`;
}

/** Precision-limited date/time types: no modifier means the maximum precision, 6. */
const PRECISION_TYPES = new Set(['timestamp', 'timestamptz', 'time', 'timetz', 'interval']);
const MAX_TIME_PRECISION = 6;
const CITEXT_PEERS = new Set(['text', 'varchar']);

/**
 * Why changing `from` to `to` neither rewrites the table nor rebuilds an index, or null when it may.
 * `indexed` says whether an index uses the column (a citext change rebuilds it: the operator class differs).
 */
export function safeTypeChange(from: ColumnType, to: ColumnType, indexed: boolean): string | null {
  if (from.array || to.array) {
    return from.array === to.array && from.name === to.name && sameModifiers(from, to) ? 'the type does not change' : null;
  }
  const [fromLimit] = from.modifiers;
  const [toLimit] = to.modifiers;
  if (from.name === to.name && sameModifiers(from, to)) return 'the type does not change';
  if (from.name === 'varchar' && to.name === 'varchar') {
    if (toLimit === undefined) return 'removing a varchar limit does not rewrite';
    return fromLimit !== undefined && toLimit >= fromLimit ? 'raising a varchar limit does not rewrite' : null;
  }
  if (to.name === 'text' && (from.name === 'varchar' || from.name === 'text')) return 'varchar to text does not rewrite';
  if (from.name === 'text' && to.name === 'varchar' && toLimit === undefined) return 'text to an unlimited varchar does not rewrite';
  if ((from.name === 'citext' && CITEXT_PEERS.has(to.name) && toLimit === undefined) || (to.name === 'citext' && CITEXT_PEERS.has(from.name))) {
    return indexed ? null : 'citext to or from text does not rewrite when no index uses the column';
  }
  if (from.name === 'numeric' && to.name === 'numeric') {
    if (to.modifiers.length === 0) return 'removing the precision of numeric does not rewrite';
    if (from.modifiers.length === 0) return null;
    const [fromPrecision, fromScale = 0] = from.modifiers;
    const [toPrecision, toScale = 0] = to.modifiers;
    return toPrecision! >= fromPrecision! && toScale === fromScale ? 'raising the precision of numeric at the same scale does not rewrite' : null;
  }
  if (from.name === to.name && PRECISION_TYPES.has(from.name)) {
    const fromPrecision = fromLimit ?? MAX_TIME_PRECISION;
    const toPrecision = toLimit ?? MAX_TIME_PRECISION;
    return toPrecision >= fromPrecision ? `raising the precision of ${from.name} does not rewrite` : null;
  }
  if (from.name === 'varbit' && to.name === 'varbit') {
    return toLimit === undefined || (fromLimit !== undefined && toLimit >= fromLimit) ? 'raising a varbit limit does not rewrite' : null;
  }
  if (from.name === 'cidr' && to.name === 'inet') return 'cidr to inet does not rewrite';
  return null;
}

function sameModifiers(a: ColumnType, b: ColumnType): boolean {
  return a.modifiers.length === b.modifiers.length && a.modifiers.every((m, i) => m === b.modifiers[i]);
}
