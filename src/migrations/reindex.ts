import type { Statement, Token } from './sql';

/** `REINDEX [ ( options ) ] { INDEX | TABLE | SCHEMA | DATABASE | SYSTEM } [ CONCURRENTLY ] name`. */
export interface Reindex {
  kind: 'INDEX' | 'TABLE' | 'SCHEMA' | 'DATABASE' | 'SYSTEM';
  concurrently: boolean;
  /** The target as written (quotes kept, schema-qualified when written so), or null when omitted. */
  target: string | null;
  /** The target resolved as PostgreSQL does: unquoted parts folded to lower case. */
  targetName: string | null;
}

const KINDS = new Set(['INDEX', 'TABLE', 'SCHEMA', 'DATABASE', 'SYSTEM']);
/** Option values that turn an option off (`CONCURRENTLY false`). */
const OFF = new Set(['false', 'off', '0']);

export function parseReindex(statement: Statement): Reindex | null {
  const t = statement.tokens;
  if (t[0]?.upper !== 'REINDEX') return null;
  let i = 1;
  let concurrently = false;
  if (isPunct(t[i], '(')) {
    for (i++; i < t.length && !isPunct(t[i], ')'); i++) {
      if (t[i]!.upper !== 'CONCURRENTLY') continue;
      const value = t[i + 1];
      concurrently = !value || isPunct(value, ',') || isPunct(value, ')') || !OFF.has(literal(value));
    }
    i++;
  }
  const kind = t[i]?.upper;
  if (!kind || !KINDS.has(kind)) return null;
  i++;
  if (t[i]?.upper === 'CONCURRENTLY') {
    concurrently = true;
    i++;
  }
  const parts: Token[] = [];
  while (t[i] && (t[i]!.kind === 'word' || t[i]!.kind === 'quoted_ident' || isPunct(t[i], '.'))) parts.push(t[i++]!);
  const target = parts.length ? parts.map((p) => p.text).join('') : null;
  const targetName = parts.length
    ? parts
        .filter((p) => !isPunct(p, '.'))
        .map((p) => (p.kind === 'quoted_ident' ? p.text.slice(1, -1).replace(/""/g, '"') : p.text.toLowerCase()))
        .join('.')
    : null;
  return { kind: kind as Reindex['kind'], concurrently, target, targetName };
}

function isPunct(token: Token | undefined, text: string): boolean {
  return token?.kind === 'punct' && token.text === text;
}

function literal(token: Token): string {
  const text = token.kind === 'string' ? token.text.replace(/^[A-Za-z&]*'/, '').replace(/'$/, '') : token.text;
  return text.toLowerCase();
}
