/**
 * A PostgreSQL lexer just deep enough to split migration files into statements and let rules look at
 * keywords without being fooled by comments, string literals, quoted identifiers or function bodies.
 */

export type TokenKind =
  | 'word'
  | 'quoted_ident'
  | 'string'
  | 'dollar_string'
  | 'number'
  | 'punct'
  | 'line_comment'
  | 'block_comment'
  | 'whitespace';

export interface Token {
  kind: TokenKind;
  /** The exact source text of the token, quotes and comment markers included. */
  text: string;
  /** 1-based line on which the token starts. */
  line: number;
  /** Offset of the token's first character in the source. */
  offset: number;
  /** Upper-cased text, for `word` tokens only (keywords and unquoted identifiers). */
  upper?: string;
  /** Set when a string, quoted identifier, dollar body or block comment runs to the end of the input. */
  unterminated?: boolean;
}

export interface SqlComment {
  text: string;
  line: number;
}

export interface Statement {
  /** Source text from the first to the last significant token, without the terminating `;`. */
  text: string;
  /** Line of the statement's first significant token. */
  line: number;
  /** Significant tokens only: no whitespace, no comments. */
  tokens: Token[];
  /**
   * Comments between the previous statement and this one. Comments on the same line as the previous
   * statement's `;` belong to that statement, not to this one.
   */
  leadingComments: SqlComment[];
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;
const NUMBER = /^(?:0[xX][0-9A-Fa-f_]+|0[oO][0-7_]+|0[bB][01_]+|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?)/;

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let line = 1;

  const push = (kind: TokenKind, end: number, unterminated = false): void => {
    const text = sql.slice(pos, end);
    const token: Token = { kind, text, line, offset: pos };
    if (kind === 'word') token.upper = text.toUpperCase();
    if (unterminated) token.unterminated = true;
    tokens.push(token);
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
    pos = end;
  };

  while (pos < sql.length) {
    const c = sql[pos]!;
    const next = sql[pos + 1];

    if (/\s/.test(c)) {
      let end = pos + 1;
      while (end < sql.length && /\s/.test(sql[end]!)) end++;
      push('whitespace', end);
    } else if (c === '-' && next === '-') {
      let end = pos + 2;
      while (end < sql.length && sql[end] !== '\n' && sql[end] !== '\r') end++;
      push('line_comment', end);
    } else if (c === '/' && next === '*') {
      const end = scanBlockComment(sql, pos);
      push('block_comment', end.end, end.unterminated);
    } else if (c === "'") {
      const end = scanQuoted(sql, pos + 1, "'", false);
      push('string', end.end, end.unterminated);
    } else if ((c === 'E' || c === 'e') && next === "'") {
      const end = scanQuoted(sql, pos + 2, "'", true);
      push('string', end.end, end.unterminated);
    } else if (/[BbXxNn]/.test(c) && next === "'" && !precededByWordChar(sql, pos)) {
      const end = scanQuoted(sql, pos + 2, "'", false);
      push('string', end.end, end.unterminated);
    } else if ((c === 'U' || c === 'u') && next === '&' && (sql[pos + 2] === "'" || sql[pos + 2] === '"')) {
      const quote = sql[pos + 2]!;
      const end = scanQuoted(sql, pos + 3, quote, false);
      push(quote === '"' ? 'quoted_ident' : 'string', end.end, end.unterminated);
    } else if (c === '"') {
      const end = scanQuoted(sql, pos + 1, '"', false);
      push('quoted_ident', end.end, end.unterminated);
    } else if (c === '$') {
      const tag = DOLLAR_TAG.exec(sql.slice(pos, pos + 256));
      if (tag) {
        const close = sql.indexOf(tag[0], pos + tag[0].length);
        if (close < 0) push('dollar_string', sql.length, true);
        else push('dollar_string', close + tag[0].length);
      } else {
        // `$1`: a positional parameter.
        let end = pos + 1;
        while (end < sql.length && /[0-9]/.test(sql[end]!)) end++;
        push('punct', end);
      }
    } else if (WORD_START.test(c)) {
      let end = pos + 1;
      while (end < sql.length && WORD_CHAR.test(sql[end]!)) end++;
      push('word', end);
    } else if (/[0-9]/.test(c) || (c === '.' && next !== undefined && /[0-9]/.test(next))) {
      const m = NUMBER.exec(sql.slice(pos, pos + 512));
      push('number', pos + (m ? m[0].length : 1));
    } else if (c === ':' && next === ':') {
      push('punct', pos + 2);
    } else {
      push('punct', pos + 1);
    }
  }
  return tokens;
}

function precededByWordChar(sql: string, pos: number): boolean {
  return pos > 0 && WORD_CHAR.test(sql[pos - 1]!);
}

/** Scans to the closing quote; a doubled quote is an escaped quote, and in E'' strings so is a backslash. */
function scanQuoted(sql: string, from: number, quote: string, backslashEscapes: boolean): { end: number; unterminated: boolean } {
  let i = from;
  while (i < sql.length) {
    const ch = sql[i];
    if (backslashEscapes && ch === '\\') {
      i += 2;
    } else if (ch === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return { end: i + 1, unterminated: false };
    } else {
      i++;
    }
  }
  return { end: sql.length, unterminated: true };
}

/** PostgreSQL block comments nest: `/* a /* b *\/ still comment *\/`. */
function scanBlockComment(sql: string, from: number): { end: number; unterminated: boolean } {
  let depth = 0;
  let i = from;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return { end: i, unterminated: false };
    } else {
      i++;
    }
  }
  return { end: sql.length, unterminated: true };
}

export function isSignificant(token: Token): boolean {
  return token.kind !== 'whitespace' && token.kind !== 'line_comment' && token.kind !== 'block_comment';
}

/**
 * Splits at top-level `;`. A `;` inside a string, comment, quoted identifier or dollar-quoted body does not
 * split, and neither does one inside a SQL-standard `BEGIN ATOMIC ... END` function body.
 */
export function splitStatements(sql: string): Statement[] {
  const statements: Statement[] = [];
  let significant: Token[] = [];
  let leading: SqlComment[] = [];
  let lastTerminatorLine = 0;
  let atomicDepth = 0;

  const finish = (): void => {
    if (significant.length > 0) {
      const first = significant[0]!;
      const last = significant[significant.length - 1]!;
      statements.push({
        text: sql.slice(first.offset, last.offset + last.text.length),
        line: first.line,
        tokens: significant,
        leadingComments: leading,
      });
    }
    significant = [];
    leading = [];
  };

  const all = tokenize(sql);
  for (let i = 0; i < all.length; i++) {
    const token = all[i]!;
    if (!isSignificant(token)) {
      const isComment = token.kind !== 'whitespace';
      const trailsPrevious = token.line === lastTerminatorLine;
      if (isComment && significant.length === 0 && !trailsPrevious) {
        leading.push({ text: token.text, line: token.line });
      }
      continue;
    }
    if (token.kind === 'punct' && token.text === ';' && atomicDepth === 0) {
      finish();
      lastTerminatorLine = token.line;
      continue;
    }
    if (token.kind === 'word') {
      if (atomicDepth > 0) {
        if (token.upper === 'CASE') atomicDepth++;
        else if (token.upper === 'END') atomicDepth--;
      } else if (token.upper === 'BEGIN' && significant.length > 0 && isRoutineDefinition(significant)) {
        const following = all.slice(i + 1).find(isSignificant);
        if (following?.upper === 'ATOMIC') atomicDepth = 1;
      }
    }
    significant.push(token);
  }
  finish();
  return statements;
}

function isRoutineDefinition(tokens: Token[]): boolean {
  const words = tokens.slice(0, 5).map((t) => t.upper);
  if (words[0] !== 'CREATE') return false;
  const kind = words[1] === 'OR' ? words[3] : words[1];
  return kind === 'FUNCTION' || kind === 'PROCEDURE';
}

/**
 * Why PostgreSQL will not (or should not) run this statement inside a transaction block, or null when it
 * can. ALTER TYPE ... ADD VALUE is allowed in a transaction since PostgreSQL 12, but the new value cannot
 * be used before commit, so it is treated as a statement to run on its own.
 */
export function nonTransactionalReason(statement: Statement): string | null {
  const words = statement.tokens.map((t) => t.upper ?? '');
  const has = (w: string): boolean => words.includes(w);
  const [first, second, third] = words;

  if (first === 'CREATE' && (second === 'INDEX' || (second === 'UNIQUE' && third === 'INDEX')) && has('CONCURRENTLY')) {
    return 'CREATE INDEX CONCURRENTLY cannot run inside a transaction block';
  }
  if (first === 'DROP' && second === 'INDEX' && third === 'CONCURRENTLY') {
    return 'DROP INDEX CONCURRENTLY cannot run inside a transaction block';
  }
  if (first === 'REINDEX') {
    if (has('CONCURRENTLY')) return 'REINDEX CONCURRENTLY cannot run inside a transaction block';
    if (has('SCHEMA') || has('DATABASE') || has('SYSTEM')) {
      return 'REINDEX SCHEMA/DATABASE/SYSTEM cannot run inside a transaction block';
    }
  }
  if (first === 'VACUUM') return 'VACUUM cannot run inside a transaction block';
  if ((first === 'CREATE' || first === 'DROP') && (second === 'DATABASE' || second === 'TABLESPACE')) {
    return `${first} ${second} cannot run inside a transaction block`;
  }
  if (first === 'ALTER' && second === 'SYSTEM') return 'ALTER SYSTEM cannot run inside a transaction block';
  if (first === 'ALTER' && second === 'DATABASE' && has('TABLESPACE')) {
    return 'ALTER DATABASE SET TABLESPACE cannot run inside a transaction block';
  }
  if (first === 'ALTER' && second === 'TABLE' && has('DETACH') && has('CONCURRENTLY')) {
    return 'ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY cannot run inside a transaction block';
  }
  if (first === 'ALTER' && second === 'TYPE' && words.some((w, i) => w === 'ADD' && words[i + 1] === 'VALUE')) {
    return 'ALTER TYPE ... ADD VALUE: the new value cannot be used until the statement has committed';
  }
  return null;
}

/** True when any statement of the file must run outside a transaction block. */
export function isNonTransactional(sql: string): boolean {
  return splitStatements(sql).some((s) => nonTransactionalReason(s) !== null);
}
