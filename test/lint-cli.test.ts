import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runLintCli } from '../src/migrations/lint';

interface Run {
  code: number;
  out: string[];
  err: string[];
}

async function run(...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runLintCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

let root: string;
let cleanDir: string;
let badDir: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'lint-cli-'));
  cleanDir = path.join(root, 'clean');
  badDir = path.join(root, 'bad');
  await fs.mkdir(cleanDir);
  await fs.mkdir(badDir);
  await fs.writeFile(path.join(cleanDir, '001_create_greetings.sql'), '-- phase: expand\nCREATE TABLE greetings (id bigint PRIMARY KEY, text text NOT NULL);\n');
  await fs.writeFile(
    path.join(cleanDir, '002_index_greetings.sql'),
    '-- phase: expand\nCREATE INDEX CONCURRENTLY IF NOT EXISTS greetings_text_idx ON greetings (text);\n',
  );
  await fs.writeFile(path.join(cleanDir, 'README.md'), 'not a migration\n');
  await fs.writeFile(
    path.join(badDir, '001_add_locale.sql'),
    [
      '-- phase: expand',
      "ALTER TABLE greetings ADD COLUMN locale text NOT NULL DEFAULT 'en';",
      '-- lint-allow: set-not-null greetings_text_not_null was validated in 000',
      'ALTER TABLE greetings ALTER COLUMN text SET NOT NULL;',
      'CREATE INDEX greetings_locale_idx',
      '  ON greetings (locale);',
      '',
    ].join('\n'),
  );
  await fs.writeFile(path.join(badDir, '002_cleanup.sql'), 'DROP TABLE greetings_old;\n');
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('deployctl lint-migrations', () => {
  test('a clean directory exits 0 with a one-line summary, ignoring files that are not .sql', async () => {
    const r = await run(cleanDir);
    assert.equal(r.code, 0);
    assert.deepEqual(r.out, ['lint-migrations: 2 files checked, 0 findings, 0 allowed: ok']);
    assert.deepEqual(r.err, []);
  });

  test('findings exit 1: one line each in the contract format, acknowledged ones listed apart, then the summary', async () => {
    const r = await run(badDir);
    assert.equal(r.code, 1);
    const add = path.join(badDir, '001_add_locale.sql');
    const cleanup = path.join(badDir, '002_cleanup.sql');
    assert.equal(r.out.length, 5, r.out.join('\n'));
    assert.match(r.out[0]!, new RegExp(`^${escape(add)}:5: index-without-concurrently: CREATE INDEX without CONCURRENTLY blocks every write to greetings .*; use CREATE INDEX CONCURRENTLY`));
    assert.equal(r.out[1], `${add}:4: set-not-null: allowed: greetings_text_not_null was validated in 000`);
    assert.match(r.out[2]!, new RegExp(`^${escape(cleanup)}:1: missing-phase: the first line is "DROP TABLE greetings_old;"; .*-- phase: expand`));
    assert.match(r.out[3]!, new RegExp(`^${escape(cleanup)}:1: drop-table: dropping table greetings_old .*contract migration`));
    assert.match(r.out[4]!, /^lint-migrations: 2 files checked, 3 findings, 1 allowed: refused — .*-- lint-allow: <rule> <reason>/);
  });

  test('files may be named one by one; a clean file exits 0', async () => {
    const clean = await run(path.join(cleanDir, '002_index_greetings.sql'));
    assert.equal(clean.code, 0);
    assert.deepEqual(clean.out, ['lint-migrations: 1 file checked, 0 findings, 0 allowed: ok']);
    const mixed = await run(path.join(cleanDir, '001_create_greetings.sql'), path.join(badDir, '002_cleanup.sql'));
    assert.equal(mixed.code, 1);
    assert.equal(mixed.out.at(-1), 'lint-migrations: 2 files checked, 2 findings, 0 allowed: refused — fix each finding, or acknowledge a deliberate exception with "-- lint-allow: <rule> <reason>" on the line before the statement');
  });

  test('files are linted in run order, each with the schema the earlier ones left; alone, the same file is refused', async () => {
    const dir = path.join(root, 'not-null-in-steps');
    await fs.mkdir(dir);
    const files = {
      '001_create_accounts.sql': '-- phase: expand\nCREATE TABLE accounts (id bigint PRIMARY KEY, email varchar(100));\n',
      '002_check_email.sql': '-- phase: expand\nALTER TABLE accounts ADD CONSTRAINT accounts_email_not_null CHECK (email IS NOT NULL) NOT VALID;\n',
      '003_validate_email.sql': '-- phase: expand\nALTER TABLE accounts VALIDATE CONSTRAINT accounts_email_not_null;\n',
      '004_require_email.sql':
        '-- phase: contract\nALTER TABLE accounts ALTER COLUMN email SET NOT NULL;\nALTER TABLE accounts DROP CONSTRAINT accounts_email_not_null;\nALTER TABLE accounts ALTER COLUMN email TYPE text;\n',
    };
    for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(dir, name), text);
    const inOrder = await run(dir);
    assert.deepEqual(inOrder.out, ['lint-migrations: 4 files checked, 0 findings, 0 allowed: ok']);
    assert.equal(inOrder.code, 0);

    const last = path.join(dir, '004_require_email.sql');
    const alone = await run(last);
    assert.equal(alone.code, 1);
    assert.match(alone.out[0]!, new RegExp(`^${escape(last)}:2: set-not-null: SET NOT NULL on accounts\\.email scans the whole table under an ACCESS EXCLUSIVE lock.*; add CHECK \\(email IS NOT NULL\\) NOT VALID`));
    assert.match(alone.out[1]!, new RegExp(`^${escape(last)}:4: alter-column-type: the previous type of accounts\\.email is not known .*; add a new column of the new type`));
  });

  test('a file the runner would refuse for its name is a finding', async () => {
    const odd = path.join(root, 'add-index.sql');
    await fs.writeFile(odd, '-- phase: expand\nCREATE TABLE t (a int);\n');
    const r = await run(odd);
    assert.equal(r.code, 1);
    assert.match(r.out[0]!, new RegExp(`^${escape(odd)}:1: migration-file-name: .*<sortable-id>_<name>\\.sql`));
  });

  test('--json prints one JSON object with every result', async () => {
    const r = await run('--json', badDir);
    assert.equal(r.code, 1);
    assert.equal(r.out.length, 1);
    const report = JSON.parse(r.out[0]!);
    assert.equal(report.ok, false);
    assert.equal(report.fileCount, 2);
    assert.equal(report.findingCount, 3);
    assert.equal(report.allowedCount, 1);
    assert.deepEqual(
      report.results.map((x: { phase: string | null }) => x.phase),
      ['expand', null],
    );
    assert.deepEqual(report.results[0].allowed[0], {
      file: path.join(badDir, '001_add_locale.sql'),
      line: 4,
      rule: 'set-not-null',
      message: report.results[0].allowed[0].message,
      reason: 'greetings_text_not_null was validated in 000',
    });
  });

  test('an empty directory is clean but says it found nothing', async () => {
    const empty = path.join(root, 'empty');
    await fs.mkdir(empty);
    const r = await run(empty);
    assert.equal(r.code, 0);
    assert.deepEqual(r.err, [`lint-migrations: no .sql files in ${empty}`]);
  });

  test('usage errors exit 2 and say what to pass', async () => {
    const none = await run();
    assert.equal(none.code, 2);
    assert.match(none.err[0]!, /no migrations given; pass a migrations directory or \.sql files/);

    const missing = path.join(root, 'does-not-exist');
    const absent = await run(missing);
    assert.equal(absent.code, 2);
    assert.deepEqual(absent.err, [`lint-migrations: ${missing}: no such file or directory; pass a migrations directory or .sql files`]);
    assert.deepEqual(absent.out, []);

    const notSql = await run(path.join(cleanDir, 'README.md'));
    assert.equal(notSql.code, 2);
    assert.match(notSql.err[0]!, /README\.md: not a \.sql file/);

    const option = await run('--fix', cleanDir);
    assert.equal(option.code, 2);
    assert.match(option.err[0]!, /unknown option --fix; usage: deployctl lint-migrations/);
  });

  test('--help prints usage with every rule and exits 0; the command name may lead the arguments', async () => {
    const r = await run('lint-migrations', '--help');
    assert.equal(r.code, 0);
    const text = r.out.join('\n');
    assert.match(text, /^usage: deployctl lint-migrations/);
    for (const rule of ['missing-phase', 'index-without-concurrently', 'set-not-null', 'concurrently-not-alone', 'migration-file-name']) {
      assert.match(text, new RegExp(`\\n  ${rule} `));
    }
    const viaName = await run('lint-migrations', cleanDir);
    assert.equal(viaName.code, 0);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
