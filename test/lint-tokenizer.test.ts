import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isNonTransactional, nonTransactionalReason, splitStatements, tokenize, type Token } from '../src/migrations/sql';

function kinds(tokens: Token[]): [string, string][] {
  return tokens.filter((t) => t.kind !== 'whitespace').map((t) => [t.kind, t.text]);
}

describe('tokenize', () => {
  test('words carry their upper-cased text; quoted identifiers do not', () => {
    const tokens = tokenize('select "Drop Table" from t');
    assert.deepEqual(kinds(tokens), [
      ['word', 'select'],
      ['quoted_ident', '"Drop Table"'],
      ['word', 'from'],
      ['word', 't'],
    ]);
    assert.equal(tokens[0]!.upper, 'SELECT');
    assert.equal(tokens[2]!.upper, undefined);
  });

  test('quoted identifiers with doubled quotes stay one token', () => {
    assert.deepEqual(kinds(tokenize('"a""b; c" x')), [
      ['quoted_ident', '"a""b; c"'],
      ['word', 'x'],
    ]);
  });

  test("'' escapes in strings and backslash escapes in E'' strings", () => {
    assert.deepEqual(kinds(tokenize("'it''s; x' E'a\\'b;' e'\\\\' 'c\\' d")), [
      ['string', "'it''s; x'"],
      ['string', "E'a\\'b;'"],
      ['string', "e'\\\\'"],
      ['string', "'c\\'"],
      ['word', 'd'],
    ]);
  });

  test('line comments end at the line end; block comments nest', () => {
    assert.deepEqual(kinds(tokenize('a -- b; c\nd /* e /* f */ g; */ h')), [
      ['word', 'a'],
      ['line_comment', '-- b; c'],
      ['word', 'd'],
      ['block_comment', '/* e /* f */ g; */'],
      ['word', 'h'],
    ]);
  });

  test('dollar-quoted bodies, tagged and untagged, hide everything up to the same tag', () => {
    assert.deepEqual(kinds(tokenize('AS $$ a; $x$ $$ , $fn$ b $$ c; $fn$ $1 x$y')), [
      ['word', 'AS'],
      ['dollar_string', '$$ a; $x$ $$'],
      ['punct', ','],
      ['dollar_string', '$fn$ b $$ c; $fn$'],
      ['punct', '$1'],
      ['word', 'x$y'],
    ]);
  });

  test('numbers, casts and punctuation', () => {
    assert.deepEqual(kinds(tokenize("1.5e3 .5 x::int 'a'||'b'")), [
      ['number', '1.5e3'],
      ['number', '.5'],
      ['word', 'x'],
      ['punct', '::'],
      ['word', 'int'],
      ['string', "'a'"],
      ['punct', '|'],
      ['punct', '|'],
      ['string', "'b'"],
    ]);
  });

  test('each token knows the line it starts on, across multi-line strings and comments', () => {
    const tokens = tokenize("a\n'b\nc' /* d\ne */\n$$\n$$ f").filter((t) => t.kind !== 'whitespace');
    assert.deepEqual(
      tokens.map((t) => [t.text.split('\n')[0], t.line]),
      [
        ['a', 1],
        ["'b", 2],
        ['/* d', 3],
        ['$$', 5],
        ['f', 6],
      ],
    );
  });

  test('unclosed strings, identifiers, bodies and comments run to the end and are marked', () => {
    for (const sql of ["x 'abc", 'x "abc', 'x $$ abc', 'x /* /* */ abc']) {
      const last = tokenize(sql).at(-1)!;
      assert.equal(last.unterminated, true, sql);
      assert.equal(last.offset + last.text.length, sql.length, sql);
    }
  });

  test('the token texts concatenate back to the input', () => {
    const sql = "-- phase: expand\nCREATE TABLE t (a text DEFAULT E'x\\'', b \"q\"\"\" );\n/* c */ $f$ d $f$;";
    assert.equal(tokenize(sql).map((t) => t.text).join(''), sql);
  });
});

describe('splitStatements', () => {
  test('splits at top-level semicolons only and keeps the statement line and text', () => {
    const statements = splitStatements(
      [
        '-- phase: expand',
        "INSERT INTO t VALUES ('a;b'); -- trailing; comment",
        '',
        '/* lead */',
        '-- lint-allow: drop-table why',
        'CREATE FUNCTION f() RETURNS void AS $$ BEGIN; END $$',
        '  LANGUAGE plpgsql;',
        'SELECT "x;y"',
      ].join('\n'),
    );
    assert.deepEqual(
      statements.map((s) => [s.line, s.text]),
      [
        [2, "INSERT INTO t VALUES ('a;b')"],
        [6, 'CREATE FUNCTION f() RETURNS void AS $$ BEGIN; END $$\n  LANGUAGE plpgsql'],
        [8, 'SELECT "x;y"'],
      ],
    );
    assert.deepEqual(statements[0]!.leadingComments, [{ text: '-- phase: expand', line: 1 }]);
    assert.deepEqual(statements[1]!.leadingComments, [
      { text: '/* lead */', line: 4 },
      { text: '-- lint-allow: drop-table why', line: 5 },
    ]);
    assert.deepEqual(statements[2]!.leadingComments, []);
  });

  test('statement tokens exclude whitespace and comments', () => {
    const [s] = splitStatements('ALTER /* c */ TABLE -- d\n t ADD x int;');
    assert.deepEqual(
      s!.tokens.map((t) => t.text),
      ['ALTER', 'TABLE', 't', 'ADD', 'x', 'int'],
    );
  });

  test('a SQL-standard BEGIN ATOMIC body is one statement, CASE ... END inside it included', () => {
    const statements = splitStatements(
      'CREATE OR REPLACE FUNCTION f(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\nSELECT 3;',
    );
    assert.equal(statements.length, 2);
    assert.match(statements[0]!.text, /SELECT 2;\nEND$/);
    assert.deepEqual([statements[1]!.line, statements[1]!.text], [6, 'SELECT 3']);
  });

  test('empty statements and a file of only comments give nothing', () => {
    assert.deepEqual(splitStatements(';;\n-- only a comment\n/* and another */'), []);
  });

  test('a transaction BEGIN is its own statement, not the start of an atomic body', () => {
    assert.deepEqual(
      splitStatements('BEGIN; CREATE TABLE t (a int); COMMIT;').map((s) => s.text),
      ['BEGIN', 'CREATE TABLE t (a int)', 'COMMIT'],
    );
  });
});

describe('isNonTransactional', () => {
  test('CONCURRENTLY index forms, VACUUM and their kin cannot run in a transaction', () => {
    for (const sql of [
      'CREATE INDEX CONCURRENTLY i ON t (a);',
      'create unique index concurrently if not exists i on t (a)',
      'DROP INDEX CONCURRENTLY IF EXISTS i;',
      'REINDEX INDEX CONCURRENTLY i;',
      'REINDEX (VERBOSE) TABLE CONCURRENTLY t;',
      'VACUUM (ANALYZE) t;',
      'CREATE DATABASE d;',
      'ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;',
      "ALTER TYPE mood ADD VALUE 'meh';",
      '-- phase: expand\nCREATE TABLE a (b int);\nCREATE INDEX CONCURRENTLY i ON a (b);',
    ]) {
      assert.equal(isNonTransactional(sql), true, sql);
    }
  });

  test('ordinary statements, and CONCURRENTLY hidden in comments, strings or identifiers, can', () => {
    for (const sql of [
      'CREATE INDEX i ON t (a);',
      '-- CREATE INDEX CONCURRENTLY i ON t (a);\nCREATE INDEX i ON t (a);',
      "INSERT INTO notes VALUES ('VACUUM; CREATE INDEX CONCURRENTLY i ON t (a)');",
      'CREATE INDEX "concurrently" ON t (a);',
      'CREATE FUNCTION f() RETURNS void AS $$ BEGIN VACUUM; END $$ LANGUAGE plpgsql;',
      'ALTER TABLE t ADD COLUMN "concurrently" int;',
      "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';",
    ]) {
      assert.equal(isNonTransactional(sql), false, sql);
    }
  });

  test('the reason names the statement', () => {
    const [s] = splitStatements('VACUUM t');
    assert.match(nonTransactionalReason(s!)!, /^VACUUM cannot run inside a transaction block/);
  });
});
