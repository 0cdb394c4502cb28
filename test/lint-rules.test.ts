import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lintMigrationSet, lintMigrationSource, RULES, type LintResult } from '../src/migrations/lint';
import type { MigrationPhase } from '../src/migrations/files';

/**
 * For every rule: SQL it must refuse (with the line of the finding) and SQL it must pass, side by side.
 * `bad`/`good` are file bodies; the phase line is prepended, so the body's first line is line 2 of the file.
 * `earlier`/`goodEarlier` are bodies of expand migrations linted before it (the schema it relies on).
 * docs/migration-lint-rules.md shows these same examples; the last test keeps the two in step.
 */
interface RuleCase {
  rule: string;
  phase?: MigrationPhase;
  earlier?: string[];
  bad: string;
  line: number;
  /** Other rules the bad example also (rightly) triggers. */
  alsoReports?: string[];
  goodEarlier?: string[];
  good: string;
  goodPhase?: MigrationPhase;
}

const RULE_CASES: RuleCase[] = [
  { rule: 'transaction-control', bad: 'BEGIN;\nCREATE TABLE audits (id bigint);\nCOMMIT;', line: 2, good: 'CREATE TABLE audits (id bigint);' },
  { rule: 'transaction-control', phase: 'contract', bad: 'DROP TABLE audits;\nCOMMIT;', line: 3, good: 'DROP TABLE audits;', goodPhase: 'contract' },
  {
    rule: 'concurrently-not-alone',
    bad: 'CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\nANALYZE users;',
    line: 2,
    good: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);',
  },
  {
    rule: 'concurrently-not-alone',
    phase: 'contract',
    bad: 'DROP INDEX CONCURRENTLY users_old_idx;\nALTER TABLE users DROP COLUMN old;',
    line: 2,
    good: 'DROP INDEX CONCURRENTLY IF EXISTS users_old_idx;',
    goodPhase: 'contract',
  },
  {
    rule: 'index-without-concurrently',
    bad: 'CREATE INDEX users_email_idx ON users (email);',
    line: 2,
    good: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);',
  },
  {
    rule: 'index-without-concurrently',
    bad: 'CREATE UNIQUE INDEX users_email_key ON public.users (lower(email));',
    line: 2,
    good: 'CREATE TABLE audits (id bigint, at timestamptz);\nCREATE INDEX audits_at_idx ON audits (at);',
  },
  { rule: 'drop-index-without-concurrently', bad: 'DROP INDEX users_email_idx;', line: 2, good: 'DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;' },
  {
    rule: 'index-without-concurrently',
    phase: 'contract',
    bad: 'CREATE INDEX users_email_idx ON users (email);',
    line: 2,
    good: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);',
    goodPhase: 'contract',
  },
  {
    rule: 'drop-index-without-concurrently',
    phase: 'contract',
    bad: 'DROP INDEX users_email_idx;',
    line: 2,
    good: 'DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;',
    goodPhase: 'contract',
  },
  { rule: 'reindex-without-concurrently', bad: 'REINDEX INDEX users_email_idx;', line: 2, good: 'REINDEX INDEX CONCURRENTLY users_email_idx;' },
  {
    rule: 'reindex-without-concurrently',
    phase: 'contract',
    bad: 'REINDEX TABLE users;',
    line: 2,
    good: 'REINDEX (CONCURRENTLY) TABLE users;',
    goodPhase: 'contract',
  },
  {
    rule: 'foreign-key-without-not-valid',
    bad: 'ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);',
    line: 2,
    good: 'ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;',
  },
  {
    rule: 'foreign-key-without-not-valid',
    bad: 'ALTER TABLE orders ADD COLUMN coupon_id bigint REFERENCES coupons (id);',
    line: 2,
    good: 'ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;',
  },
  {
    rule: 'check-without-not-valid',
    bad: 'ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);',
    line: 2,
    good: 'ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;',
  },
  {
    rule: 'check-without-not-valid',
    bad: 'ALTER TABLE orders ADD COLUMN discount int CHECK (discount >= 0);',
    line: 2,
    good: 'ALTER TABLE orders ADD COLUMN discount int;',
  },
  {
    rule: 'validate-in-same-migration',
    bad: 'ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;',
    line: 3,
    good: 'ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;',
  },
  {
    rule: 'validate-in-same-migration',
    phase: 'contract',
    bad: 'ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive, DROP COLUMN legacy_total;',
    line: 2,
    good: 'ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;\nALTER TABLE orders DROP COLUMN legacy_total;',
    goodPhase: 'contract',
  },
  {
    rule: 'unique-constraint-without-index',
    bad: 'ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);',
    line: 2,
    good: 'ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;',
  },
  {
    rule: 'primary-key-without-index',
    bad: 'ALTER TABLE events ADD PRIMARY KEY (id);',
    line: 2,
    goodEarlier: ['CREATE TABLE events (id bigint NOT NULL, at timestamptz);', 'CREATE UNIQUE INDEX CONCURRENTLY events_id_idx ON events (id);'],
    good: 'ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_id_idx;',
  },
  {
    rule: 'primary-key-using-nullable-index',
    earlier: ['CREATE TABLE events (id bigint, at timestamptz);', 'CREATE UNIQUE INDEX CONCURRENTLY events_id_idx ON events (id);'],
    bad: 'ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_id_idx;',
    line: 2,
    goodEarlier: [
      'CREATE TABLE events (id bigint, at timestamptz);',
      'CREATE UNIQUE INDEX CONCURRENTLY events_id_idx ON events (id);',
      'ALTER TABLE events ADD CONSTRAINT events_id_not_null CHECK (id IS NOT NULL) NOT VALID;',
      'ALTER TABLE events VALIDATE CONSTRAINT events_id_not_null;',
    ],
    good: 'ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_id_idx;',
  },
  {
    rule: 'primary-key-using-nullable-index',
    phase: 'contract',
    bad: 'ALTER TABLE events ADD PRIMARY KEY USING INDEX events_id_idx;',
    line: 2,
    goodEarlier: ['CREATE TABLE events (id bigint NOT NULL, at timestamptz);', 'CREATE UNIQUE INDEX CONCURRENTLY events_id_idx ON events (id);'],
    good: 'ALTER TABLE events ADD PRIMARY KEY USING INDEX events_id_idx;',
    goodPhase: 'contract',
  },
  {
    rule: 'exclusion-constraint',
    bad: 'ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&);',
    line: 2,
    good: 'CREATE TABLE bookings_v2 (room_id bigint, during tstzrange, EXCLUDE USING gist (room_id WITH =, during WITH &&));',
  },
  {
    rule: 'alter-domain-constraint',
    bad: "ALTER DOMAIN email_address ADD CONSTRAINT email_has_at CHECK (VALUE LIKE '%@%');",
    line: 2,
    good: "ALTER DOMAIN email_address ADD CONSTRAINT email_has_at CHECK (VALUE LIKE '%@%') NOT VALID;",
  },
  {
    rule: 'alter-domain-constraint',
    phase: 'contract',
    bad: 'ALTER DOMAIN email_address VALIDATE CONSTRAINT email_has_at;',
    line: 2,
    good: "ALTER TABLE users ADD CONSTRAINT users_email_has_at CHECK (email LIKE '%@%') NOT VALID;",
    goodPhase: 'contract',
  },
  {
    rule: 'set-not-null',
    bad: 'ALTER TABLE users ALTER COLUMN email SET NOT NULL;',
    line: 2,
    good: 'ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;',
  },
  {
    rule: 'set-not-null',
    phase: 'contract',
    earlier: ['ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;'],
    bad: 'ALTER TABLE users ALTER COLUMN email SET NOT NULL;',
    line: 2,
    goodEarlier: [
      'ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;',
      'ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;',
    ],
    good: 'ALTER TABLE users ALTER COLUMN email SET NOT NULL;',
    goodPhase: 'contract',
  },
  {
    rule: 'drop-not-null',
    bad: 'ALTER TABLE users ALTER COLUMN nickname DROP NOT NULL;',
    line: 2,
    good: 'ALTER TABLE users ALTER COLUMN nickname DROP NOT NULL;',
    goodPhase: 'contract',
  },
  {
    rule: 'not-null-column-without-default',
    bad: 'ALTER TABLE users ADD COLUMN locale text NOT NULL;',
    line: 2,
    good: "ALTER TABLE users ADD COLUMN locale text NOT NULL DEFAULT 'en';",
  },
  {
    rule: 'not-null-default-dropped',
    bad: "ALTER TABLE users ADD COLUMN locale text NOT NULL DEFAULT 'en';\nALTER TABLE users ALTER COLUMN locale DROP DEFAULT;",
    line: 3,
    good: 'ALTER TABLE users ALTER COLUMN locale DROP DEFAULT;',
    goodPhase: 'contract',
  },
  {
    rule: 'volatile-default',
    bad: 'ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();',
    line: 2,
    good: 'ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();',
  },
  {
    rule: 'volatile-default',
    bad: 'ALTER TABLE users ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp();',
    line: 2,
    good: "ALTER TABLE users ADD COLUMN score numeric DEFAULT '0'::numeric(10, 2);",
  },
  { rule: 'volatile-default', bad: 'ALTER TABLE users ADD COLUMN seq bigserial;', line: 2, good: 'ALTER TABLE users ADD COLUMN seq bigint;' },
  {
    rule: 'alter-column-type',
    bad: 'ALTER TABLE users ALTER COLUMN age TYPE bigint;',
    line: 2,
    good: 'ALTER TABLE users ADD COLUMN age_big bigint;',
  },
  {
    rule: 'alter-column-type',
    earlier: ['CREATE TABLE accounts (id bigint PRIMARY KEY, email varchar(100), balance numeric(12,2));'],
    bad: 'ALTER TABLE accounts ALTER COLUMN email TYPE varchar(50);',
    line: 2,
    goodEarlier: ['CREATE TABLE accounts (id bigint PRIMARY KEY, email varchar(100), balance numeric(12,2));'],
    good: 'ALTER TABLE accounts ALTER COLUMN email TYPE text, ALTER COLUMN balance TYPE numeric(16,2);',
  },
  {
    rule: 'alter-column-type',
    phase: 'contract',
    earlier: ['CREATE TABLE accounts (id bigint PRIMARY KEY, email varchar(100) CHECK (email <> \'\'));'],
    bad: 'ALTER TABLE accounts ALTER COLUMN email TYPE text;',
    line: 2,
    goodEarlier: ['CREATE TABLE accounts (id bigint PRIMARY KEY, email varchar(100));'],
    good: 'ALTER TABLE accounts ALTER COLUMN email TYPE varchar(200);',
    goodPhase: 'contract',
  },
  {
    rule: 'detach-partition-without-concurrently',
    bad: 'ALTER TABLE events DETACH PARTITION events_2023;',
    line: 2,
    good: 'ALTER TABLE events DETACH PARTITION events_2023 CONCURRENTLY;',
  },
  { rule: 'vacuum-full-or-cluster', bad: 'VACUUM FULL events;', line: 2, good: 'VACUUM (ANALYZE) events;' },
  {
    rule: 'vacuum-full-or-cluster',
    phase: 'contract',
    bad: 'CLUSTER events USING events_at_idx;',
    line: 2,
    good: 'REINDEX INDEX CONCURRENTLY events_at_idx;',
    goodPhase: 'contract',
  },
  {
    rule: 'dml-while-table-locked',
    bad: "ALTER TABLE users ADD COLUMN locale text;\nUPDATE users SET locale = 'en' WHERE locale IS NULL;",
    line: 3,
    good: "UPDATE users SET locale = 'en' WHERE locale IS NULL AND id BETWEEN 1 AND 10000;",
  },
  {
    rule: 'rename-column',
    bad: 'ALTER TABLE users RENAME COLUMN name TO full_name;',
    line: 2,
    good: 'ALTER TABLE users ADD COLUMN full_name text;',
  },
  { rule: 'rename-table', bad: 'ALTER TABLE users RENAME TO accounts;', line: 2, good: 'CREATE VIEW accounts AS SELECT * FROM users;' },
  { rule: 'rename-schema', bad: 'ALTER SCHEMA billing RENAME TO invoicing;', line: 2, good: 'CREATE SCHEMA invoicing;' },
  {
    rule: 'rename-type',
    bad: "ALTER TYPE order_status RENAME VALUE 'done' TO 'completed';",
    line: 2,
    good: "ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'completed' AFTER 'done';",
  },
  {
    rule: 'drop-column',
    bad: 'ALTER TABLE users DROP COLUMN legacy_flag;',
    line: 2,
    good: 'ALTER TABLE users DROP COLUMN legacy_flag;',
    goodPhase: 'contract',
  },
  { rule: 'drop-table', bad: 'DROP TABLE legacy_sessions;', line: 2, good: 'DROP TABLE legacy_sessions;', goodPhase: 'contract' },
  {
    rule: 'drop-database',
    phase: 'contract',
    bad: 'DROP DATABASE IF EXISTS legacy_reports;',
    line: 2,
    good: 'DROP TABLE IF EXISTS legacy_reports;',
    goodPhase: 'contract',
  },
  { rule: 'truncate-table', bad: 'TRUNCATE sessions;', line: 2, good: 'DELETE FROM sessions WHERE expires_at < now();' },
  { rule: 'prefer-jsonb', bad: 'ALTER TABLE users ADD COLUMN prefs json;', line: 2, good: 'ALTER TABLE users ADD COLUMN prefs jsonb;' },
  {
    rule: 'prefer-jsonb',
    phase: 'contract',
    bad: 'CREATE TABLE events (id bigint, payload json);',
    line: 2,
    good: 'CREATE TABLE events (id bigint, payload jsonb);',
    goodPhase: 'contract',
  },
  {
    rule: 'lint-allow-invalid',
    bad: '-- lint-allow: drop-table\nDROP TABLE legacy_sessions;',
    line: 2,
    alsoReports: ['drop-table'],
    good: '-- lint-allow: drop-table sessions moved to redis in 1.4; nothing reads this table\nDROP TABLE legacy_sessions;',
  },
  {
    rule: 'unterminated-token',
    bad: "UPDATE users SET note = 'it''s;\nDROP TABLE users;",
    line: 2,
    good: "UPDATE users SET note = 'it''s';",
  },
];

function lint(body: string, phase: MigrationPhase = 'expand', earlier: string[] = []): LintResult {
  const files = earlier.map((e, i) => ({ file: `001_earlier_${i + 1}.sql`, text: `-- phase: expand\n${e}\n` }));
  return lintMigrationSet([...files, { file: '002_example.sql', text: `-- phase: ${phase}\n${body}\n` }]).at(-1)!;
}

function rulesOf(result: LintResult): string[] {
  return [...new Set(result.findings.map((f) => f.rule))].sort();
}

describe('every rule refuses its bad example and passes its good one', () => {
  for (const c of RULE_CASES) {
    test(`${c.rule}: bad (${c.phase ?? 'expand'}) ${JSON.stringify(c.bad)}`, () => {
      const result = lint(c.bad, c.phase, c.earlier);
      const finding = result.findings.find((f) => f.rule === c.rule);
      assert.ok(finding, `expected a ${c.rule} finding, got ${JSON.stringify(result.findings)}`);
      assert.equal(finding.line, c.line);
      assert.equal(finding.file, '002_example.sql');
      assert.deepEqual(rulesOf(result), [c.rule, ...(c.alsoReports ?? [])].sort());
    });
    test(`${c.rule}: good (${c.goodPhase ?? 'expand'}) ${JSON.stringify(c.good)}`, () => {
      const result = lint(c.good, c.goodPhase, c.goodEarlier);
      assert.deepEqual(result.findings, []);
    });
  }
});

test('missing-phase: a file without a phase line is refused at line 1 and checked as expand', () => {
  const result = lintMigrationSource('003_drop.sql', 'DROP TABLE legacy_sessions;\n');
  assert.equal(result.phase, null);
  assert.deepEqual(
    result.findings.map((f) => [f.rule, f.line]),
    [
      ['missing-phase', 1],
      ['drop-table', 1],
    ],
  );
  assert.match(result.findings[0]!.message, /-- phase: expand/);
});

test('missing-phase: a malformed phase line is refused and quoted; a well-formed one passes', () => {
  const bad = lintMigrationSource('003_x.sql', '-- phase: expnad\nCREATE TABLE audits (id bigint);\n');
  assert.deepEqual(bad.findings.map((f) => [f.rule, f.line]), [['missing-phase', 1]]);
  assert.match(bad.findings[0]!.message, /"-- phase: expnad"/);
  const empty = lintMigrationSource('003_x.sql', '');
  assert.deepEqual(empty.findings.map((f) => f.rule), ['missing-phase']);
  const good = lintMigrationSource('003_x.sql', '-- phase: contract\nDROP TABLE legacy_sessions;\n');
  assert.equal(good.phase, 'contract');
  assert.deepEqual(good.findings, []);
});

test('every rule has a bad and a good example above, and a kebab-case name', () => {
  const covered = new Set([...RULE_CASES.map((c) => c.rule), 'missing-phase']);
  for (const rule of RULES) {
    assert.match(rule.name, /^[a-z]+(-[a-z]+)*$/);
    assert.ok(covered.has(rule.name), `no examples for ${rule.name}`);
  }
});

test('every finding message names the danger and a safe alternative', () => {
  for (const c of RULE_CASES) {
    for (const f of lint(c.bad, c.phase, c.earlier).findings) {
      assert.match(f.message, /;/, `${f.rule}: message should be "<danger>; <alternative>": ${f.message}`);
      assert.ok(f.message.length > 60, `${f.rule}: message too thin: ${f.message}`);
    }
  }
});

describe('acknowledgements', () => {
  test('a lint-allow with a reason moves the finding to allowed, keeping the reason', () => {
    const result = lint('-- lint-allow: set-not-null users_email_not_null was validated in 004\nALTER TABLE users ALTER COLUMN email SET NOT NULL;');
    assert.deepEqual(result.findings, []);
    assert.equal(result.allowed.length, 1);
    assert.equal(result.allowed[0]!.rule, 'set-not-null');
    assert.equal(result.allowed[0]!.line, 3);
    assert.equal(result.allowed[0]!.reason, 'users_email_not_null was validated in 004');
  });

  test('a lint-allow covers only the statement right after it, and only the rule it names', () => {
    const result = lint(
      [
        '-- lint-allow: drop-column old_flag unused since 1.2',
        'ALTER TABLE users DROP COLUMN old_flag, ALTER COLUMN age TYPE bigint;',
        'ALTER TABLE orders DROP COLUMN old_flag;',
      ].join('\n'),
    );
    assert.deepEqual(result.allowed.map((f) => [f.rule, f.line]), [['drop-column', 3]]);
    assert.deepEqual(result.findings.map((f) => [f.rule, f.line]), [
      ['alter-column-type', 3],
      ['drop-column', 4],
    ]);
  });

  test('a lint-allow naming an unknown rule, or one that cannot be acknowledged, is a finding', () => {
    const unknown = lint('-- lint-allow: drop-everything because\nDROP TABLE legacy_sessions;');
    assert.deepEqual(rulesOf(unknown), ['drop-table', 'lint-allow-invalid']);
    assert.match(unknown.findings.find((f) => f.rule === 'lint-allow-invalid')!.message, /"drop-everything"/);
    const notAllowable = lint('-- lint-allow: transaction-control we like our own transactions\nBEGIN;');
    assert.deepEqual(rulesOf(notAllowable), ['lint-allow-invalid', 'transaction-control']);
    assert.deepEqual(notAllowable.allowed, []);
  });

  test('a lint-allow on the same line as the previous statement does not reach the next one', () => {
    const result = lint('CREATE TABLE audits (id bigint); -- lint-allow: drop-table trailing note\nDROP TABLE legacy_sessions;');
    assert.deepEqual(result.findings.map((f) => [f.rule, f.line]), [['drop-table', 3]]);
  });
});

describe('SQL that must neither hide a danger nor raise a false one', () => {
  test('dangerous words inside comments, strings, quoted identifiers and dollar bodies are not findings', () => {
    const result = lint(
      [
        '-- DROP TABLE users; BEGIN; TRUNCATE users;',
        '/* CREATE INDEX users_a ON users (a); /* nested: DROP TABLE x; */ still a comment: COMMIT; */',
        'CREATE TABLE "drop table" (id bigint, "truncate" text, note text DEFAULT \'DROP TABLE users;\');',
        "INSERT INTO audits (note) VALUES ('ALTER TABLE users DROP COLUMN email; COMMIT;'), (E'it\\'s; DROP TABLE users');",
        'CREATE FUNCTION purge() RETURNS void LANGUAGE plpgsql AS $fn$',
        'BEGIN',
        '  TRUNCATE users;',
        '  DROP TABLE users;',
        '  COMMIT;',
        'END',
        '$fn$;',
        "DO $$ BEGIN EXECUTE 'CREATE INDEX i ON users (a)'; END $$;",
        'ALTER TABLE "drop table" ADD COLUMN "rename" text;',
      ].join('\n'),
    );
    assert.deepEqual(result.findings, []);
  });

  test('a danger after tricky literals and comments is still found, on its own line', () => {
    const result = lint(
      [
        "INSERT INTO audits (note) VALUES ('a;''b'), (E'c\\';d'), ($q$ e; $ f $q$);",
        '/* a /* nested */ comment */ DROP TABLE users; -- trailing',
        'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;',
        'TRUNCATE users;',
      ].join('\n'),
    );
    assert.deepEqual(result.findings.map((f) => [f.rule, f.line]), [
      ['drop-table', 3],
      ['truncate-table', 5],
    ]);
  });

  test('a statement spread over many lines is reported at the line of the offending clause', () => {
    const result = lint(
      [
        'ALTER TABLE',
        '  users',
        '  ADD COLUMN',
        '    bio text,',
        '  ALTER COLUMN',
        '    email',
        '    SET NOT NULL;',
      ].join('\n'),
    );
    assert.deepEqual(result.findings.map((f) => [f.rule, f.line]), [['set-not-null', 6]]);
  });

  test('keywords split by comments or written in lower case are still keywords', () => {
    const result = lint('create /* why */ index -- CONCURRENTLY is only a comment here\n  users_a_idx on users (a);');
    assert.deepEqual(result.findings.map((f) => [f.rule, f.line]), [['index-without-concurrently', 2]]);
  });

  test('a quoted identifier is never a keyword: an index named "concurrently" is not built concurrently', () => {
    const result = lint('CREATE INDEX "concurrently" ON users (a);');
    assert.deepEqual(rulesOf(result), ['index-without-concurrently']);
  });

  test('a table created earlier in the same file may be indexed and constrained directly', () => {
    const result = lint(
      [
        'CREATE TABLE public.audits (id bigint, user_id bigint, at timestamptz);',
        'CREATE INDEX audits_at_idx ON audits (at);',
        'ALTER TABLE audits ADD CONSTRAINT audits_user_fk FOREIGN KEY (user_id) REFERENCES users (id),',
        '  ADD PRIMARY KEY (id), ALTER COLUMN at SET NOT NULL, ADD COLUMN token uuid DEFAULT gen_random_uuid();',
      ].join('\n'),
    );
    assert.deepEqual(result.findings, []);
  });

  test('contract migrations may destroy and rename, but a locking statement still needs its non-blocking form', () => {
    const destructive = lint(
      [
        'ALTER TABLE users DROP COLUMN old_flag, RENAME COLUMN a TO b;',
        'DROP TABLE legacy_sessions;',
        'TRUNCATE audits;',
        'ALTER TABLE users ALTER COLUMN nickname DROP NOT NULL;',
      ].join('\n'),
      'contract',
    );
    assert.equal(destructive.phase, 'contract');
    assert.deepEqual(destructive.findings, []);
    const locking = lint(
      [
        'DROP INDEX users_old_idx;',
        'ALTER TABLE users ALTER COLUMN email SET NOT NULL;',
        'ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);',
        'CREATE INDEX users_b_idx ON users (b);',
        'REINDEX TABLE users;',
      ].join('\n'),
      'contract',
    );
    assert.deepEqual(locking.findings.map((f) => [f.rule, f.line]), [
      ['drop-index-without-concurrently', 2],
      ['set-not-null', 3],
      ['unique-constraint-without-index', 4],
      ['index-without-concurrently', 5],
      ['reindex-without-concurrently', 6],
    ]);
  });

  test('several ALTER TABLE actions each get their own finding', () => {
    const result = lint('ALTER TABLE users DROP COLUMN a, DROP COLUMN IF EXISTS b, DROP CONSTRAINT users_c_check;');
    assert.deepEqual(result.findings.map((f) => f.rule), ['drop-column', 'drop-column']);
    assert.match(result.findings[1]!.message, /users\.b/);
  });

  test('volatile-default: identity and stored generated columns rewrite; unknown functions are flagged as unknown', () => {
    assert.deepEqual(rulesOf(lint('ALTER TABLE users ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;')), ['volatile-default']);
    assert.deepEqual(rulesOf(lint('ALTER TABLE users ADD COLUMN r float8 DEFAULT random();')), ['volatile-default']);
    const unknown = lint('ALTER TABLE users ADD COLUMN code text DEFAULT make_code();');
    assert.match(unknown.findings[0]!.message, /may rewrite.*make_code\(\) is IMMUTABLE or STABLE/);
    assert.deepEqual(lint("ALTER TABLE users ADD COLUMN tags text[] DEFAULT ARRAY[]::text[], ADD COLUMN m jsonb DEFAULT '{}';").findings, []);
  });
});

test('docs/migration-lint-rules.md shows every example tested above', () => {
  const doc = readFileSync(path.join(__dirname, '..', 'docs', 'migration-lint-rules.md'), 'utf8');
  for (const c of RULE_CASES) {
    for (const line of [c.bad, c.good, ...(c.earlier ?? []), ...(c.goodEarlier ?? [])].flatMap((body) => body.split('\n'))) {
      assert.ok(doc.includes(line), `docs/migration-lint-rules.md lacks the ${c.rule} example line: ${line}`);
    }
  }
});
