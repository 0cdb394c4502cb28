/**
 * What the migrations linted so far say about the schema: tables and their columns (type, NOT NULL), CHECK
 * constraints (and whether they are validated) and indexes. Rules use it to tell a safe statement from a
 * dangerous one where the statement alone cannot (SET NOT NULL after a validated CHECK, varchar(n) to text,
 * PRIMARY KEY USING INDEX on NOT NULL columns). Anything not created by a linted migration is unknown, and
 * rules treat unknown as possibly dangerous.
 */
import type { Statement, Token } from '../sql';
import { parseColumnType, type ColumnType } from './column-types';
import {
  createdTableName,
  droppedNames,
  findTopLevel,
  hasTopLevel,
  identifierName,
  isIdentifier,
  isPunct,
  isWord,
  parseAddColumn,
  parseAddConstraint,
  parseAlterColumn,
  parseAlterTable,
  parseColumnDefinition,
  readQualifiedName,
  sameTable,
  skipParens,
  skipWords,
  splitTopLevel,
  type ColumnDefinition,
} from './shape';

export interface KnownColumn {
  name: string;
  /** null when the type could not be read. */
  type: ColumnType | null;
  notNull: boolean;
}

export interface KnownTable {
  name: string;
  columns: Map<string, KnownColumn>;
}

export interface KnownCheck {
  /** null for an unnamed constraint. */
  name: string | null;
  table: string;
  /** The expression's tokens, to tell which columns it mentions. */
  expression: Token[];
  /** The column of a `CHECK (column IS NOT NULL)`, else null. */
  notNullOf: string | null;
  validated: boolean;
}

export interface KnownIndex {
  name: string;
  table: string;
  /** The tokens of the indexed elements, to tell which columns it uses. */
  elements: Token[];
  /** The plain column names, in order, when every element is a plain column; else null. */
  columns: string[] | null;
}

export class KnownSchema {
  private readonly tables: KnownTable[] = [];
  private readonly checks: KnownCheck[] = [];
  private readonly indexes: KnownIndex[] = [];
  /** VALIDATE CONSTRAINT of a constraint no linted migration added: its definition is unknown. */
  private readonly validatedUnknown: Array<{ table: string; name: string }> = [];
  private unnamed = 0;

  table(name: string): KnownTable | undefined {
    return this.tables.find((t) => sameTable(t.name, name));
  }

  column(table: string, column: string): KnownColumn | undefined {
    return this.table(table)?.columns.get(column);
  }

  index(name: string): KnownIndex | undefined {
    const base = lastPart(name);
    return this.indexes.find((i) => i.name === base);
  }

  checksOn(table: string): KnownCheck[] {
    return this.checks.filter((c) => sameTable(c.table, table));
  }

  check(table: string, name: string): KnownCheck | undefined {
    return this.checksOn(table).find((c) => c.name === name);
  }

  /** True when a validated `CHECK (column IS NOT NULL)` exists: SET NOT NULL then skips its scan (PostgreSQL 12+). */
  hasValidatedNotNullCheck(table: string, column: string): boolean {
    return this.checksOn(table).some((c) => c.validated && c.notNullOf === column);
  }

  /**
   * True when a constraint whose definition is unknown was validated on the table and its name says it is the
   * column's NOT NULL check (`foo_bar_not_null`, `users_bar_nn`): the pattern of a CHECK added NOT VALID by a
   * migration older than those linted, validated, then used for SET NOT NULL.
   */
  hasValidatedNotNullCheckByName(table: string, column: string): boolean {
    return this.validatedUnknown.some(
      (v) => sameTable(v.table, table) && v.name.includes(column) && /(^|_)(not_?null|nn|null)(_|$)/.test(v.name),
    );
  }

  /** True when some index of the table uses the column, in a plain element or an expression. */
  isIndexed(table: string, column: string): boolean {
    return this.indexes.some((i) => sameTable(i.table, table) && mentions(i.elements, column));
  }

  /** Records what the statement does to the schema. Called after the rules have checked it. */
  apply(statement: Statement): void {
    const t = statement.tokens;
    const created = createdTableName(statement);
    if (created) return this.createTable(created, statement);
    if (isWord(t[0], 'CREATE')) return this.createIndex(t);
    if (isWord(t[0], 'DROP') && isWord(t[1], 'TABLE')) {
      for (const name of droppedNames(t, skipWords(t, 2, 'IF', 'EXISTS'))) this.dropTable(name.name);
      return;
    }
    if (isWord(t[0], 'DROP') && isWord(t[1], 'INDEX')) {
      let i = skipWords(t, 2, 'CONCURRENTLY');
      i = skipWords(t, i, 'IF', 'EXISTS');
      for (const name of droppedNames(t, i)) this.dropIndex(name.name);
      return;
    }
    const alter = parseAlterTable(statement);
    if (alter) for (const action of alter.actions) this.alterTable(alter.table.name, action);
  }

  private createTable(name: string, statement: Statement): void {
    this.dropTable(name);
    const table: KnownTable = { name, columns: new Map() };
    this.tables.push(table);
    const t = statement.tokens;
    const open = t.findIndex((tok) => isPunct(tok, '('));
    if (open < 0 || hasTopLevel(t.slice(0, open), 'AS')) return;
    for (const element of splitTopLevel(t.slice(open + 1, skipParens(t, open) - 1))) {
      if (isWord(element[0], 'LIKE')) continue;
      if (isWord(element[0], 'CONSTRAINT', 'CHECK', 'UNIQUE', 'PRIMARY', 'FOREIGN', 'EXCLUDE')) {
        this.addTableConstraint(name, element);
        continue;
      }
      const column = parseColumnDefinition(element);
      if (column) this.addColumn(name, column);
    }
  }

  private addColumn(table: string, definition: ColumnDefinition): void {
    const known = this.table(table);
    const c = definition.constraints;
    const serial = /^(small|big)?serial[248]?$/i.test(definition.type[0]?.text ?? '');
    const notNull =
      serial ||
      c.some((tok, k) => (isWord(tok, 'NOT') && isWord(c[k + 1], 'NULL')) || (isWord(tok, 'PRIMARY') && isWord(c[k + 1], 'KEY'))) ||
      (hasTopLevel(c, 'GENERATED') && hasTopLevel(c, 'IDENTITY'));
    known?.columns.set(definition.name, { name: definition.name, type: parseColumnType(definition.type), notNull });
    for (let k = 0; k < c.length; k++) {
      if (!isWord(c[k], 'CHECK') || !isPunct(c[k + 1], '(')) continue;
      const expression = c.slice(k + 2, skipParens(c, k + 1) - 1);
      const named = k >= 2 && isWord(c[k - 2], 'CONSTRAINT') ? identifierName(c[k - 1]!) : null;
      this.checks.push({ name: named, table, expression, notNullOf: notNullColumn(expression), validated: true });
    }
    if (c.some((tok) => isWord(tok, 'UNIQUE')) || c.some((tok, k) => isWord(tok, 'PRIMARY') && isWord(c[k + 1], 'KEY'))) {
      this.indexes.push({ name: this.unnamedIndex(), table, elements: [definition.nameToken], columns: [definition.name] });
    }
  }

  /** `[CONSTRAINT name] CHECK (...) | UNIQUE (...) | PRIMARY KEY (...) [USING INDEX i] | ...`, in CREATE TABLE or ADD. */
  private addTableConstraint(table: string, element: Token[]): void {
    let i = 0;
    let name: string | null = null;
    if (isWord(element[0], 'CONSTRAINT') && isIdentifier(element[1])) {
      name = identifierName(element[1]!);
      i = 2;
    }
    const body = element.slice(i);
    if (isWord(body[0], 'CHECK') && isPunct(body[1], '(')) {
      const expression = body.slice(2, skipParens(body, 1) - 1);
      this.checks.push({ name, table, expression, notNullOf: notNullColumn(expression), validated: !hasTopLevel(body, 'NOT', 'VALID') });
      return;
    }
    const primary = isWord(body[0], 'PRIMARY');
    if (!primary && !isWord(body[0], 'UNIQUE')) return;
    const using = findTopLevel(body, 'USING', 'INDEX');
    if (using >= 0 && isIdentifier(body[using + 2])) {
      const index = this.index(identifierName(body[using + 2]!));
      if (!index) return;
      if (primary) for (const column of index.columns ?? []) this.setNotNull(table, column, true);
      if (name) index.name = name;
      return;
    }
    const open = body.findIndex((tok) => isPunct(tok, '('));
    if (open < 0) return;
    const elements = body.slice(open + 1, skipParens(body, open) - 1);
    const columns = plainColumns(elements);
    if (primary) for (const column of columns ?? []) this.setNotNull(table, column, true);
    this.indexes.push({ name: name ?? this.unnamedIndex(), table, elements, columns });
  }

  private alterTable(table: string, action: Token[]): void {
    const add = parseAddColumn(action);
    if (add) return this.addColumn(table, add.column);
    if (parseAddConstraint(action)) return this.addTableConstraint(table, action.slice(1));
    const column = parseAlterColumn(action);
    if (column) {
      const rest = column.rest;
      if (isWord(rest[0], 'SET') && isWord(rest[1], 'NOT') && isWord(rest[2], 'NULL')) this.setNotNull(table, column.column, true);
      else if (isWord(rest[0], 'DROP') && isWord(rest[1], 'NOT') && isWord(rest[2], 'NULL')) this.setNotNull(table, column.column, false);
      else {
        const typeAt = isWord(rest[0], 'TYPE') ? 1 : isWord(rest[0], 'SET') && isWord(rest[1], 'DATA') && isWord(rest[2], 'TYPE') ? 3 : -1;
        const known = this.column(table, column.column);
        if (typeAt > 0 && known) known.type = parseColumnType(typeTokens(rest.slice(typeAt)));
      }
      return;
    }
    if (isWord(action[0], 'VALIDATE') && isWord(action[1], 'CONSTRAINT') && isIdentifier(action[2])) {
      const name = identifierName(action[2]!);
      const check = this.check(table, name);
      if (check) check.validated = true;
      else this.validatedUnknown.push({ table, name });
      return;
    }
    if (isWord(action[0], 'DROP') && isWord(action[1], 'CONSTRAINT')) {
      const at = skipWords(action, 2, 'IF', 'EXISTS');
      if (!isIdentifier(action[at])) return;
      const name = identifierName(action[at]!);
      const check = this.check(table, name);
      if (check) this.checks.splice(this.checks.indexOf(check), 1);
      const index = this.indexes.find((i) => i.name === name && sameTable(i.table, table));
      if (index) this.indexes.splice(this.indexes.indexOf(index), 1);
      return;
    }
    if (isWord(action[0], 'DROP')) {
      const at = skipWords(action, isWord(action[1], 'COLUMN') ? 2 : 1, 'IF', 'EXISTS');
      if (isIdentifier(action[at])) this.dropColumn(table, identifierName(action[at]!));
      return;
    }
    if (isWord(action[0], 'RENAME')) {
      if (isWord(action[1], 'TO') && isIdentifier(action[2])) {
        const known = this.table(table);
        const to = identifierName(action[2]!);
        const schemaPrefix = table.includes('.') ? `${table.slice(0, table.lastIndexOf('.'))}.` : '';
        for (const c of this.checks) if (sameTable(c.table, table)) c.table = `${schemaPrefix}${to}`;
        for (const i of this.indexes) if (sameTable(i.table, table)) i.table = `${schemaPrefix}${to}`;
        if (known) known.name = `${schemaPrefix}${to}`;
        return;
      }
      const from = isWord(action[1], 'COLUMN') ? 2 : 1;
      if (isWord(action[from], 'CONSTRAINT') || !isIdentifier(action[from]) || !isWord(action[from + 1], 'TO') || !isIdentifier(action[from + 2])) return;
      this.renameColumn(table, identifierName(action[from]!), identifierName(action[from + 2]!));
    }
  }

  private createIndex(t: Token[]): void {
    const indexAt = isWord(t[1], 'UNIQUE') ? 2 : 1;
    if (!isWord(t[indexAt], 'INDEX')) return;
    let i = skipWords(t, indexAt + 1, 'CONCURRENTLY');
    i = skipWords(t, i, 'IF', 'NOT', 'EXISTS');
    let name: string | null = null;
    if (!isWord(t[i], 'ON') && isIdentifier(t[i])) {
      name = lastPart(readQualifiedName(t, i)!.name);
      i = readQualifiedName(t, i)!.end;
    }
    if (!isWord(t[i], 'ON')) return;
    const table = readQualifiedName(t, skipWords(t, i + 1, 'ONLY'));
    if (!table) return;
    const open = t.findIndex((tok, k) => k >= table.end && isPunct(tok, '('));
    if (open < 0) return;
    const elements = t.slice(open + 1, skipParens(t, open) - 1);
    this.indexes.push({ name: name ?? this.unnamedIndex(), table: table.name, elements, columns: plainColumns(elements) });
  }

  private setNotNull(table: string, column: string, notNull: boolean): void {
    const known = this.column(table, column);
    if (known) known.notNull = notNull;
  }

  private dropTable(name: string): void {
    const index = this.tables.findIndex((t) => sameTable(t.name, name));
    if (index >= 0) this.tables.splice(index, 1);
    removeWhere(this.checks, (c) => sameTable(c.table, name));
    removeWhere(this.indexes, (i) => sameTable(i.table, name));
  }

  private dropIndex(name: string): void {
    removeWhere(this.indexes, (i) => i.name === lastPart(name));
  }

  /** PostgreSQL drops the indexes and constraints that use a dropped column. */
  private dropColumn(table: string, column: string): void {
    this.table(table)?.columns.delete(column);
    removeWhere(this.checks, (c) => sameTable(c.table, table) && mentions(c.expression, column));
    removeWhere(this.indexes, (i) => sameTable(i.table, table) && mentions(i.elements, column));
  }

  private renameColumn(table: string, from: string, to: string): void {
    const known = this.table(table);
    const column = known?.columns.get(from);
    if (known && column) {
      known.columns.delete(from);
      known.columns.set(to, { ...column, name: to });
    }
    for (const c of this.checksOn(table)) {
      if (c.notNullOf === from) c.notNullOf = to;
      c.expression = renamed(c.expression, from, to);
    }
    for (const i of this.indexes) {
      if (!sameTable(i.table, table)) continue;
      i.elements = renamed(i.elements, from, to);
      i.columns = i.columns?.map((c) => (c === from ? to : c)) ?? null;
    }
  }

  private unnamedIndex(): string {
    return `\u0000unnamed-${++this.unnamed}`;
  }
}

/** Tokens of a type in `TYPE <type> [COLLATE c] [USING expr]`. */
export function typeTokens(tokens: Token[]): Token[] {
  const end = [findTopLevel(tokens, 'COLLATE'), findTopLevel(tokens, 'USING')].filter((i) => i >= 0);
  return tokens.slice(0, end.length ? Math.min(...end) : tokens.length);
}

/** True when one of the tokens names the column (an identifier, not a string or a keyword-cased word of another name). */
export function mentions(tokens: Token[], column: string): boolean {
  return tokens.some((tok) => isIdentifier(tok) && identifierName(tok) === column);
}

/** `col IS NOT NULL`, possibly parenthesised: the column, else null. */
function notNullColumn(expression: Token[]): string | null {
  let e = expression;
  while (isPunct(e[0], '(') && skipParens(e, 0) === e.length) e = e.slice(1, -1);
  if (e.length === 4 && isIdentifier(e[0]) && isWord(e[1], 'IS') && isWord(e[2], 'NOT') && isWord(e[3], 'NULL')) return identifierName(e[0]!);
  return null;
}

/** Each element a bare column (with optional ASC/DESC/NULLS/opclass words): their names; else null. */
function plainColumns(elements: Token[]): string[] | null {
  const columns: string[] = [];
  for (const element of splitTopLevel(elements)) {
    if (!isIdentifier(element[0]) || element.slice(1).some((tok) => !isIdentifier(tok))) return null;
    columns.push(identifierName(element[0]!));
  }
  return columns;
}

function renamed(tokens: Token[], from: string, to: string): Token[] {
  const quoted = `"${to.replace(/"/g, '""')}"`;
  return tokens.map((tok): Token => (isIdentifier(tok) && identifierName(tok) === from ? { ...tok, kind: 'quoted_ident', text: quoted } : tok));
}

function lastPart(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

function removeWhere<T>(list: T[], predicate: (item: T) => boolean): void {
  for (let i = list.length - 1; i >= 0; i--) if (predicate(list[i]!)) list.splice(i, 1);
}
