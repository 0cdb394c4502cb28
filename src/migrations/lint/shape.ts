/**
 * Small readers over a statement's significant tokens: enough structure (ALTER TABLE actions, column
 * definitions, index targets) for rules to name the thing at fault without a full SQL grammar.
 */
import type { Statement, Token } from '../sql';

export function isWord(token: Token | undefined, ...words: string[]): boolean {
  return token?.kind === 'word' && words.includes(token.upper!);
}

export function isPunct(token: Token | undefined, text: string): boolean {
  return token?.kind === 'punct' && token.text === text;
}

/** True when the words at `start` are exactly `seq` (e.g. ['NOT', 'VALID']). */
export function wordsAt(tokens: Token[], start: number, ...seq: string[]): boolean {
  return seq.every((w, k) => isWord(tokens[start + k], w));
}

/** Index of the first top-level (outside parentheses) occurrence of the word sequence, or -1. */
export function findTopLevel(tokens: Token[], ...seq: string[]): number {
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (isPunct(t, '(') || isPunct(t, '[')) depth++;
    else if (isPunct(t, ')') || isPunct(t, ']')) depth--;
    else if (depth === 0 && wordsAt(tokens, i, ...seq)) return i;
  }
  return -1;
}

export function hasTopLevel(tokens: Token[], ...seq: string[]): boolean {
  return findTopLevel(tokens, ...seq) >= 0;
}

/** Splits at commas outside parentheses and brackets. */
export function splitTopLevel(tokens: Token[]): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (isPunct(t, '(') || isPunct(t, '[')) depth++;
    else if (isPunct(t, ')') || isPunct(t, ']')) depth--;
    if (depth === 0 && isPunct(t, ',')) parts.push([]);
    else parts[parts.length - 1]!.push(t);
  }
  return parts.filter((p) => p.length > 0);
}

/** Index just past the parenthesised group opening at `open`. */
export function skipParens(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (isPunct(tokens[i], '(')) depth++;
    else if (isPunct(tokens[i], ')') && --depth === 0) return i + 1;
  }
  return tokens.length;
}

/** Identifier as PostgreSQL resolves it: unquoted names fold to lower case, quoted names keep theirs. */
export function identifierName(token: Token): string {
  if (token.kind === 'quoted_ident') {
    const body = token.text.startsWith('"') ? token.text.slice(1, -1) : token.text.slice(3, -1);
    return body.replace(/""/g, '"');
  }
  return token.text.toLowerCase();
}

export function isIdentifier(token: Token | undefined): token is Token {
  return token?.kind === 'word' || token?.kind === 'quoted_ident';
}

export interface QualifiedName {
  /** Dotted, as resolved: `public.users`. */
  name: string;
  /** The last part: the table itself. */
  base: string;
  token: Token;
  /** Index just past the name. */
  end: number;
}

export function readQualifiedName(tokens: Token[], start: number): QualifiedName | null {
  const first = tokens[start];
  if (!isIdentifier(first)) return null;
  const parts = [identifierName(first)];
  let i = start + 1;
  while (isPunct(tokens[i], '.') && isIdentifier(tokens[i + 1])) {
    parts.push(identifierName(tokens[i + 1]!));
    i += 2;
  }
  return { name: parts.join('.'), base: parts[parts.length - 1]!, token: first, end: i };
}

/** `users` and `public.users` name the same table when either is unqualified. */
export function sameTable(a: string, b: string): boolean {
  if (a === b) return true;
  const pa = a.split('.');
  const pb = b.split('.');
  if (pa.length > 1 && pb.length > 1) return false;
  return pa[pa.length - 1] === pb[pb.length - 1];
}

/** Skips optional words in order, e.g. IF NOT EXISTS / ONLY, returning the new position. */
export function skipWords(tokens: Token[], i: number, ...seq: string[]): number {
  return wordsAt(tokens, i, ...seq) ? i + seq.length : i;
}

export interface AlterTable {
  /** TABLE, VIEW, MATERIALIZED VIEW, FOREIGN TABLE. */
  objectKind: string;
  table: QualifiedName;
  /** Comma-separated actions, each its own token list. */
  actions: Token[][];
}

/** `ALTER TABLE [IF EXISTS] [ONLY] name [*] action [, action ...]`, or null for any other statement. */
export function parseAlterTable(statement: Statement): AlterTable | null {
  const t = statement.tokens;
  if (!isWord(t[0], 'ALTER')) return null;
  let i = 1;
  let objectKind: string;
  if (isWord(t[1], 'TABLE', 'VIEW')) {
    objectKind = t[1]!.upper!;
    i = 2;
  } else if (wordsAt(t, 1, 'MATERIALIZED', 'VIEW') || wordsAt(t, 1, 'FOREIGN', 'TABLE')) {
    objectKind = `${t[1]!.upper} ${t[2]!.upper}`;
    i = 3;
  } else {
    return null;
  }
  i = skipWords(t, i, 'IF', 'EXISTS');
  i = skipWords(t, i, 'ONLY');
  const table = readQualifiedName(t, i);
  if (!table) return null;
  i = table.end;
  if (isPunct(t[i], '*')) i++;
  return { objectKind, table, actions: splitTopLevel(t.slice(i)) };
}

/** `CREATE [temp] TABLE [IF NOT EXISTS] name`: the created table's name, or null. */
export function createdTableName(statement: Statement): string | null {
  const t = statement.tokens;
  if (!isWord(t[0], 'CREATE')) return null;
  let i = 1;
  while (isWord(t[i], 'GLOBAL', 'LOCAL', 'TEMP', 'TEMPORARY', 'UNLOGGED')) i++;
  if (!isWord(t[i], 'TABLE')) return null;
  i = skipWords(t, i + 1, 'IF', 'NOT', 'EXISTS');
  return readQualifiedName(t, i)?.name ?? null;
}

/** Column definitions of `CREATE TABLE name ( ... )`, without table constraints. */
export function createTableColumns(statement: Statement): ColumnDefinition[] {
  const t = statement.tokens;
  if (createdTableName(statement) === null) return [];
  const open = t.findIndex((tok) => isPunct(tok, '('));
  if (open < 0) return [];
  const body = t.slice(open + 1, skipParens(t, open) - 1);
  return splitTopLevel(body)
    .filter((el) => !isWord(el[0], 'CONSTRAINT', 'CHECK', 'UNIQUE', 'PRIMARY', 'FOREIGN', 'EXCLUDE', 'LIKE'))
    .map(parseColumnDefinition)
    .filter((c): c is ColumnDefinition => c !== null);
}

export interface ColumnDefinition {
  name: string;
  nameToken: Token;
  /** Tokens of the data type, e.g. `varchar ( 20 )` or `json [ ]`. */
  type: Token[];
  /** Everything after the type: constraints, DEFAULT, GENERATED, COLLATE. */
  constraints: Token[];
}

const COLUMN_CONSTRAINT_START = new Set([
  'CONSTRAINT', 'NOT', 'NULL', 'DEFAULT', 'CHECK', 'UNIQUE', 'PRIMARY', 'REFERENCES', 'GENERATED',
  'COLLATE', 'COMPRESSION', 'STORAGE', 'DEFERRABLE', 'INITIALLY',
]);

/** `name type [constraints]`. */
export function parseColumnDefinition(tokens: Token[]): ColumnDefinition | null {
  const nameToken = tokens[0];
  if (!isIdentifier(nameToken)) return null;
  let i = 1;
  while (i < tokens.length) {
    const tok = tokens[i]!;
    if (tok.kind === 'word' && COLUMN_CONSTRAINT_START.has(tok.upper!)) break;
    i = isPunct(tok, '(') ? skipParens(tokens, i) : i + 1;
  }
  return { name: identifierName(nameToken), nameToken, type: tokens.slice(1, i), constraints: tokens.slice(i) };
}

export interface AddColumn {
  /** The ADD token, for the finding's line. */
  at: Token;
  column: ColumnDefinition;
}

/** An ALTER TABLE action `ADD [COLUMN] [IF NOT EXISTS] name type ...`, or null for other actions. */
export function parseAddColumn(action: Token[]): AddColumn | null {
  if (!isWord(action[0], 'ADD')) return null;
  let i = 1;
  if (isWord(action[1], 'COLUMN')) i = 2;
  else if (isWord(action[1], 'CONSTRAINT', 'CHECK', 'UNIQUE', 'PRIMARY', 'FOREIGN', 'EXCLUDE')) return null;
  i = skipWords(action, i, 'IF', 'NOT', 'EXISTS');
  const column = parseColumnDefinition(action.slice(i));
  return column ? { at: action[0]!, column } : null;
}

export interface AddConstraint {
  at: Token;
  /** The constraint's own name when given (`ADD CONSTRAINT name ...`). */
  name: string | null;
  /** CHECK, UNIQUE, PRIMARY, FOREIGN or EXCLUDE. */
  kind: string;
  /** Tokens from the kind keyword on. */
  body: Token[];
}

/** An ALTER TABLE action `ADD [CONSTRAINT name] CHECK|UNIQUE|PRIMARY KEY|FOREIGN KEY|EXCLUDE ...`. */
export function parseAddConstraint(action: Token[]): AddConstraint | null {
  if (!isWord(action[0], 'ADD')) return null;
  let i = 1;
  let name: string | null = null;
  if (isWord(action[1], 'CONSTRAINT') && isIdentifier(action[2])) {
    name = identifierName(action[2]!);
    i = 3;
  }
  const kindToken = action[i];
  if (!isWord(kindToken, 'CHECK', 'UNIQUE', 'PRIMARY', 'FOREIGN', 'EXCLUDE')) return null;
  return { at: action[0]!, name, kind: kindToken!.upper!, body: action.slice(i) };
}

export interface AlterColumn {
  at: Token;
  column: string;
  /** Tokens after the column name: `SET NOT NULL`, `TYPE text`, `SET DATA TYPE ...`. */
  rest: Token[];
}

/** An ALTER TABLE action `ALTER [COLUMN] name ...`. */
export function parseAlterColumn(action: Token[]): AlterColumn | null {
  if (!isWord(action[0], 'ALTER')) return null;
  let i = 1;
  // `ALTER CONSTRAINT name ...` changes deferrability, not a column.
  if (isWord(action[1], 'CONSTRAINT')) return null;
  if (isWord(action[1], 'COLUMN')) i = 2;
  const nameToken = action[i];
  if (!isIdentifier(nameToken)) return null;
  return { at: action[0]!, column: identifierName(nameToken), rest: action.slice(i + 1) };
}

/** `CREATE [UNIQUE] INDEX ...`: whether CONCURRENTLY was given and the indexed table. */
export function parseCreateIndex(statement: Statement): { concurrently: boolean; table: QualifiedName | null } | null {
  const t = statement.tokens;
  if (!isWord(t[0], 'CREATE')) return null;
  const indexAt = isWord(t[1], 'UNIQUE') ? 2 : 1;
  if (!isWord(t[indexAt], 'INDEX')) return null;
  const on = t.findIndex((tok, k) => k > indexAt && isWord(tok, 'ON'));
  const concurrently = t.slice(indexAt + 1, on < 0 ? t.length : on).some((tok) => isWord(tok, 'CONCURRENTLY'));
  const table = on < 0 ? null : readQualifiedName(t, skipWords(t, on + 1, 'ONLY'));
  return { concurrently, table };
}

/** Names listed after `DROP <kind> [CONCURRENTLY] [IF EXISTS]`, e.g. the tables of DROP TABLE a, b. */
export function droppedNames(tokens: Token[], start: number): QualifiedName[] {
  const names: QualifiedName[] = [];
  for (const part of splitTopLevel(tokens.slice(start))) {
    const name = readQualifiedName(part, 0);
    if (name) names.push(name);
  }
  return names;
}

export function quote(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** ALTER TABLE of a table that existed before this file; a table created earlier in the file is empty and unused. */
export function alterOfExistingTable(statement: Statement, isNewTable: (name: string) => boolean): AlterTable | null {
  const alter = parseAlterTable(statement);
  return alter && !isNewTable(alter.table.name) ? alter : null;
}

export function isValidateAction(action: Token[]): boolean {
  return isWord(action[0], 'VALIDATE') && isWord(action[1], 'CONSTRAINT');
}

/**
 * Whether an ALTER TABLE action takes a lock that blocks writes (SHARE ROW EXCLUSIVE or stronger), held until
 * the migration commits. The exceptions take SHARE UPDATE EXCLUSIVE, which lets reads and writes through.
 */
export function alterActionBlocksWrites(action: Token[]): boolean {
  if (isValidateAction(action)) return false;
  if ((isWord(action[0], 'SET', 'RESET') && isPunct(action[1], '(')) || wordsAt(action, 0, 'CLUSTER', 'ON') || wordsAt(action, 0, 'SET', 'WITHOUT', 'CLUSTER')) {
    return false;
  }
  if (isWord(action[0], 'DETACH') && isWord(action[action.length - 1], 'CONCURRENTLY', 'FINALIZE')) return false;
  const column = parseAlterColumn(action);
  if (column && (wordsAt(column.rest, 0, 'SET', 'STATISTICS') || (isWord(column.rest[0], 'SET', 'RESET') && isPunct(column.rest[1], '(')))) {
    return false;
  }
  return true;
}

/**
 * The existing table a statement locks against writes until the migration commits (ALTER TABLE, CREATE INDEX
 * or DROP INDEX without CONCURRENTLY, LOCK TABLE in a write-blocking mode), or null. For DROP INDEX, which
 * does not name its table, a description of it.
 */
export function writeBlockingLock(statement: Statement, isNewTable: (name: string) => boolean): string | null {
  const t = statement.tokens;
  const alter = parseAlterTable(statement);
  if (alter) return !isNewTable(alter.table.name) && alter.actions.some(alterActionBlocksWrites) ? alter.table.name : null;
  const index = parseCreateIndex(statement);
  if (index) return !index.concurrently && index.table && !isNewTable(index.table.name) ? index.table.name : null;
  if (wordsAt(t, 0, 'DROP', 'INDEX') && !isWord(t[2], 'CONCURRENTLY')) {
    const index = droppedNames(t, skipWords(t, 2, 'IF', 'EXISTS'))[0];
    return index ? `the table of index ${quote(index.name)}` : 'the indexed table';
  }
  if (isWord(t[0], 'LOCK')) {
    const name = readQualifiedName(t, skipWords(t, skipWords(t, 1, 'TABLE'), 'ONLY'));
    const mode = t.slice(name?.end ?? 0).map((tok) => tok.upper).join(' ');
    const weak = /\bIN (ACCESS SHARE|ROW SHARE|ROW EXCLUSIVE|SHARE UPDATE EXCLUSIVE) MODE\b/.test(mode);
    return name && !weak && !isNewTable(name.name) ? name.name : null;
  }
  return null;
}

/** True when an earlier statement of the file ran `CREATE <kind> [IF NOT EXISTS] <name>` (TYPE, DOMAIN, SCHEMA). */
export function createdEarlierInFile(statements: Statement[], index: number, kind: string, name: string): boolean {
  return statements.slice(0, index).some((s) => {
    const t = s.tokens;
    if (!isWord(t[0], 'CREATE') || !isWord(t[1], kind)) return false;
    const created = readQualifiedName(t, skipWords(t, 2, 'IF', 'NOT', 'EXISTS'));
    return created !== null && sameTable(created.name, name);
  });
}
