import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { Client, escapeIdentifier } from 'pg';
import { FailureType, refuse } from '../errors';
import type { MigrationFile, MigrationPhase } from './files';
import { LEDGER_TABLE, compareIds, ensureLedger, mustPrecede, readLedger, verifyAgainstLedger, type LedgerRow } from './ledger';
import { parseReindex, type Reindex } from './reindex';
import { splitStatements } from './sql';

export interface RunnableMigration extends MigrationFile {
  /** False for a file that must run outside a transaction (one statement, e.g. CREATE INDEX CONCURRENTLY). */
  transactional: boolean;
}

export interface ApplyOptions {
  databaseUrl: string;
  /** All files the release ships, in id order. */
  migrations: RunnableMigration[];
  /** Which pending migrations to apply now (the caller decides expand vs contract). */
  apply: (m: RunnableMigration) => boolean;
  /** Recorded in the ledger. */
  workflowId: string;
  /** lock_timeout per migration; a lock timeout is retried with backoff a few times. */
  lockTimeoutMs: number;
  /** statement_timeout per migration. */
  statementTimeoutMs: number;
  /** How long to poll for the migration lock before giving up with a retryable error. */
  advisoryLockWaitMs: number;
  /** Called before and after each migration and periodically while one runs or waits. */
  onProgress?: (message: string) => void;
  /** Attempts per migration when it hits lock_timeout or a deadlock; default 4. */
  lockAttempts?: number;
  /** How often a running migration reports progress; default 5000 ms. */
  progressIntervalMs?: number;
}

export interface AppliedMigration {
  id: string;
  phase: MigrationPhase;
  checksum: string;
  durationMs: number;
  transactional: boolean;
}

export interface ApplyResult {
  applied: AppliedMigration[];
  alreadyApplied: string[];
  /** Pending but not selected by apply(). */
  skipped: string[];
}

/** One key for every runner of every release: advisory locks are per database, so this serialises runs on one database. */
export const MIGRATION_LOCK_KEY: bigint = createHash('sha256').update('deploy-orchestrator/schema-migrations').digest().readBigInt64BE(0);

const DEFAULT_LOCK_ATTEMPTS = 4;
const DEFAULT_PROGRESS_INTERVAL_MS = 5000;
/** Makes the server notice a vanished runner (killed worker, lost host) and end its session, freeing the lock. */
const CONNECTION_CHECK_INTERVAL = '2s';

/** A fault retrying can cure; an ordinary Error, so the activity's retry policy retries it. */
function transient(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

// ---------------------------------------------------------------------------------------------------
// Session: one dedicated connection for the whole run, plus a lazily opened observer for diagnostics.

interface Session {
  client: Client;
  pid: number;
  database: string;
  serverVersion: number;
  observer: Client | null | undefined;
  databaseUrl: string;
  progress: (message: string) => void;
}

async function openSession(databaseUrl: string, applicationName: string, progress: (m: string) => void): Promise<Session> {
  const client = new Client({ connectionString: databaseUrl, application_name: applicationName.slice(0, 63) });
  // A terminated backend emits 'error' on the client; the pending query reports it, so only keep the process alive.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw transient('MigrationDatabaseUnavailable', `could not connect to the migration database: ${(err as Error).message}`);
  }
  const info = await client.query<{ pid: number; database: string; version: number }>(
    `SELECT pg_backend_pid() AS pid, current_database() AS database, current_setting('server_version_num')::int AS version`,
  );
  const row = info.rows[0]!;
  const session: Session = { client, pid: row.pid, database: row.database, serverVersion: row.version, observer: undefined, databaseUrl, progress };
  await resetSession(session);
  return session;
}

/** Undoes session settings a previous migration may have left (SET without LOCAL, search_path). */
async function resetSession(session: Session): Promise<void> {
  await session.client.query('RESET ALL');
  if (session.serverVersion >= 140000) {
    await session.client.query(`SELECT set_config('client_connection_check_interval', $1, false)`, [CONNECTION_CHECK_INTERVAL]);
  }
}

async function observerOf(session: Session): Promise<Client | null> {
  if (session.observer !== undefined) return session.observer;
  const observer = new Client({ connectionString: session.databaseUrl, application_name: 'deploy-migrate observer' });
  observer.on('error', () => undefined);
  try {
    await observer.connect();
    session.observer = observer;
  } catch {
    session.observer = null; // diagnostics only: run without them
  }
  return session.observer;
}

async function closeSession(session: Session): Promise<void> {
  const end = (c: Client | null | undefined) => (c ? Promise.race([c.end().catch(() => undefined), sleep(2000)]) : undefined);
  await Promise.all([end(session.client), end(session.observer)]);
}

// ---------------------------------------------------------------------------------------------------
// The migration lock: session-level, taken by polling outside any transaction, so a CONCURRENTLY build
// in one run never deadlocks with another run queued on the lock.

function lockKeyParts(key: bigint): { classid: string; objid: string } {
  const unsigned = BigInt.asUintN(64, key);
  return { classid: (unsigned >> 32n).toString(), objid: (unsigned & 0xffffffffn).toString() };
}

async function describeLockHolder(client: Client): Promise<string | null> {
  const { classid, objid } = lockKeyParts(MIGRATION_LOCK_KEY);
  const res = await client.query<{ holder: string | null }>(
    `SELECT string_agg(format('pid %s (%s)', a.pid, coalesce(nullif(a.application_name, ''), 'no application_name')), ', ') AS holder
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid AND l.objid = $2::oid AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [classid, objid],
  );
  return res.rows[0]?.holder ?? null;
}

async function acquireMigrationLock(session: Session, waitMs: number, progressIntervalMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  let delay = 50;
  let lastReport = 0;
  for (;;) {
    const res = await session.client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock($1::bigint) AS locked`, [
      MIGRATION_LOCK_KEY.toString(),
    ]);
    if (res.rows[0]?.locked) return;
    const holder = (await describeLockHolder(session.client)) ?? 'its holder is not visible to this user';
    const now = Date.now();
    if (now >= deadline) {
      throw transient(
        'MigrationLockBusy',
        `database ${session.database}: another migration run holds the migration lock (${holder}); waited ${waitMs} ms. ` +
          `The step is retried; if no run is in progress, end that session (SELECT pg_terminate_backend(<pid>)).`,
      );
    }
    if (now - lastReport >= progressIntervalMs) {
      lastReport = now;
      session.progress(`waiting for the migration lock of database ${session.database}, held by ${holder}`);
    }
    await sleep(Math.min(delay, Math.max(deadline - now, 1)));
    delay = Math.min(delay * 2, 1000);
  }
}

async function releaseMigrationLock(session: Session): Promise<void> {
  // Best effort: if the connection is gone, the server already released the lock with the session.
  await session.client.query(`SELECT pg_advisory_unlock($1::bigint)`, [MIGRATION_LOCK_KEY.toString()]).catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------------
// Lock-wait observer: samples what the running migration waits for, so a lock timeout names the lock
// and its holder, and a long migration keeps reporting progress (the activity heartbeats from it).

class StatementWatcher {
  lastLockWait: string | null = null;

  constructor(
    private readonly session: Session,
    private readonly migrationId: string,
    private readonly sampleEveryMs: number,
    private readonly progressIntervalMs: number,
  ) {}

  async during<T>(work: Promise<T>): Promise<T> {
    const started = Date.now();
    let lastReport = started;
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void (async () => {
        try {
          const wait = await this.sampleLockWait();
          if (wait) this.lastLockWait = wait;
          const now = Date.now();
          if (now - lastReport >= this.progressIntervalMs) {
            lastReport = now;
            const elapsed = Math.round((now - started) / 1000);
            this.session.progress(`migration ${this.migrationId}: running for ${elapsed} s${wait ? `; waiting for ${wait}` : ''}`);
          }
        } catch {
          // diagnostics and progress only; the migration itself reports its outcome
        } finally {
          busy = false;
        }
      })();
    }, this.sampleEveryMs);
    try {
      return await work;
    } finally {
      clearInterval(timer);
    }
  }

  private async sampleLockWait(): Promise<string | null> {
    const observer = await observerOf(this.session);
    if (!observer) return null;
    const res = await observer.query<{
      mode: string;
      locktype: string;
      relname: string | null;
      nspname: string | null;
      holders: string | null;
    }>(
      `SELECT l.mode, l.locktype, c.relname, n.nspname,
              (SELECT string_agg(format('pid %s (%s, %s)', a.pid, coalesce(nullif(a.application_name, ''), 'no application_name'),
                                        coalesce(a.state, 'state unknown')), ', ')
                 FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids($1))) AS holders
         FROM pg_locks l
         LEFT JOIN pg_class c ON c.oid = l.relation
         LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE l.pid = $1 AND NOT l.granted
        LIMIT 1`,
      [this.session.pid],
    );
    const row = res.rows[0];
    if (!row) return null;
    const what =
      row.relname !== null
        ? `${row.mode} on relation ${row.nspname}.${row.relname}`
        : row.locktype === 'virtualxid' || row.locktype === 'transactionid'
          ? `an older transaction to finish (${row.mode} on ${row.locktype})`
          : `${row.mode} on a ${row.locktype} lock`;
    return row.holders ? `${what} held by ${row.holders}` : what;
  }
}

// ---------------------------------------------------------------------------------------------------
// Non-transactional index builds: what a crash can leave behind and how to find it.

const IDENT = `(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const CREATE_INDEX = new RegExp(
  `^CREATE\\s+(?:UNIQUE\\s+)?INDEX\\s+(?:CONCURRENTLY\\s+)?(?:IF\\s+NOT\\s+EXISTS\\s+)?(${IDENT})\\s+ON\\s+(?:ONLY\\s+)?(${IDENT}(?:\\s*\\.\\s*${IDENT})?)`,
  'i',
);

function stripLeadingComments(sql: string): string {
  let s = sql;
  for (;;) {
    s = s.replace(/^\s+/, '');
    if (s.startsWith('--')) {
      const nl = s.indexOf('\n');
      s = nl < 0 ? '' : s.slice(nl + 1);
    } else if (s.startsWith('/*')) {
      const end = s.indexOf('*/');
      s = end < 0 ? '' : s.slice(end + 2);
    } else {
      return s;
    }
  }
}

function unquoteIdent(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident.toLowerCase();
}

interface IndexBuild {
  /** null when the statement lets Postgres choose the name (then a rerun cannot find what a crash left). */
  name: string | null;
  /** The table as written, quoting kept, for to_regclass. */
  table: string | null;
}

/** The index a non-transactional statement creates, or null when it does not create one. */
export function parseIndexBuild(sql: string): IndexBuild | null {
  const head = stripLeadingComments(sql);
  if (!/^CREATE\s+(?:UNIQUE\s+)?INDEX\b/i.test(head)) return null;
  const m = CREATE_INDEX.exec(head);
  if (!m || ['ON', 'CONCURRENTLY'].includes(m[1]!.toUpperCase())) return { name: null, table: null };
  return { name: unquoteIdent(m[1]!), table: m[2]! };
}

async function findIndex(client: Client, build: IndexBuild): Promise<{ schema: string; valid: boolean } | null> {
  const res = await client.query<{ schema: string; valid: boolean }>(
    `SELECT n.nspname AS schema, i.indisvalid AS valid
       FROM pg_class ic JOIN pg_index i ON i.indexrelid = ic.oid JOIN pg_namespace n ON n.oid = ic.relnamespace
      WHERE ic.relname = $1 AND i.indrelid = to_regclass($2)`,
    [build.name, build.table],
  );
  return res.rows[0] ?? null;
}

/**
 * An interrupted REINDEX ... CONCURRENTLY leaves an INVALID index named `<index>_ccnew` (or `_ccnew1`, ...), still
 * updated by every write, or, when it failed after the swap, the old index as `<index>_ccold`. A rerun does not
 * clean them: REINDEX TABLE CONCURRENTLY skips invalid indexes and REINDEX INDEX builds another `_ccnew1`. The
 * PostgreSQL documentation's recovery is to drop them, so the runner does before running the statement.
 */
export function parseReindexConcurrently(sql: string): Reindex | null {
  const statement = splitStatements(sql)[0];
  const reindex = statement ? parseReindex(statement) : null;
  return reindex?.concurrently && reindex.kind !== 'SYSTEM' ? reindex : null;
}

async function findReindexLeftovers(client: Client, reindex: Reindex): Promise<Array<{ schema: string; name: string }>> {
  const res = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class t ON t.oid = i.indrelid
      WHERE NOT i.indisvalid
        AND c.relname ~ '_cc(new|old)[0-9]*$'
        AND CASE $1
              WHEN 'INDEX' THEN i.indrelid = (SELECT x.indrelid FROM pg_index x WHERE x.indexrelid = to_regclass($2))
              WHEN 'TABLE' THEN t.oid = to_regclass($2) OR t.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = to_regclass($2))
              WHEN 'SCHEMA' THEN t.relnamespace = to_regnamespace($2)
                OR t.oid IN (SELECT reltoastrelid FROM pg_class WHERE relnamespace = to_regnamespace($2))
              ELSE true
            END
      ORDER BY 1, 2`,
    [reindex.kind, reindex.target],
  );
  if (reindex.kind !== 'INDEX') return res.rows;
  // Only the leftovers of this index: PostgreSQL names them after it, truncated to fit the suffix.
  const original = reindex.targetName!.slice(reindex.targetName!.lastIndexOf('.') + 1);
  return res.rows.filter((r) => original.startsWith(r.name.replace(/_cc(new|old)[0-9]*$/, '')));
}

// ---------------------------------------------------------------------------------------------------
// Running one migration.

interface RunContext {
  session: Session;
  opts: ApplyOptions;
  watcher: StatementWatcher;
  attempt: number;
}

async function setTimeouts(client: Client, opts: ApplyOptions, local: boolean): Promise<void> {
  await client.query(`SELECT set_config('lock_timeout', $1, $3), set_config('statement_timeout', $2, $3)`, [
    `${opts.lockTimeoutMs}ms`,
    `${opts.statementTimeoutMs}ms`,
    local,
  ]);
}

/** SQL and ledger row commit together: after a crash the migration is applied-and-recorded or neither. */
async function runTransactional(m: RunnableMigration, ctx: RunContext): Promise<number> {
  const { client } = ctx.session;
  await client.query('BEGIN');
  try {
    await setTimeouts(client, ctx.opts, true);
    const before = await client.query<{ xid: string }>(`SELECT pg_current_xact_id()::text AS xid`);
    const startedAt = new Date();
    const t0 = performance.now();
    await ctx.watcher.during(client.query(m.sql)); // no parameters: simple protocol runs the multi-statement text
    const durationMs = Math.round(performance.now() - t0);
    const after = await client.query<{ xid: string | null }>(`SELECT pg_current_xact_id_if_assigned()::text AS xid`);
    if (after.rows[0]?.xid !== before.rows[0]?.xid) {
      throw refuse(
        FailureType.MigrationFailed,
        `migration ${m.id}: the file ends or restarts the transaction the runner wraps it in (COMMIT, ROLLBACK or BEGIN), ` +
          `so part of it may be committed without a ledger row; remove those statements, check the schema by hand, and ` +
          `record or revert what ran before retrying`,
      );
    }
    await client.query(
      `INSERT INTO ${LEDGER_TABLE} (id, checksum, phase, state, started_at, finished_at, duration_ms, workflow_id)
       VALUES ($1, $2, $3, 'applied', $4, $5, $6, $7)`,
      [m.id, m.checksum, m.phase, startedAt, new Date(), durationMs, ctx.opts.workflowId],
    );
    await client.query('COMMIT');
    return durationMs;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** One statement outside a transaction, bracketed by a committed 'started' row and its 'applied' update. */
async function runNonTransactional(m: RunnableMigration, resuming: boolean, ctx: RunContext): Promise<number> {
  const { client } = ctx.session;
  await setTimeouts(client, ctx.opts, false);
  const startedAt = new Date();
  await client.query(
    `INSERT INTO ${LEDGER_TABLE} AS l (id, checksum, phase, state, started_at, workflow_id)
     VALUES ($1, $2, $3, 'started', $4, $5)
     ON CONFLICT (id) DO UPDATE
       SET state = 'started', started_at = EXCLUDED.started_at, finished_at = NULL, duration_ms = NULL, workflow_id = EXCLUDED.workflow_id
       WHERE l.state = 'started'`,
    [m.id, m.checksum, m.phase, startedAt, ctx.opts.workflowId],
  );

  const build = parseIndexBuild(m.sql);
  let alreadyBuilt = false;
  if (build && build.name === null && resuming) {
    throw refuse(
      FailureType.MigrationRefused,
      `migration ${m.id}: an earlier run of this CREATE INDEX did not finish, and the statement does not name its index, ` +
        `so the runner cannot find what it left; drop any INVALID index it left on that table ` +
        `(SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid), delete its ledger row ` +
        `(DELETE FROM ${LEDGER_TABLE} WHERE id = '${m.id}') and name the index in a new migration`,
    );
  }
  if (build?.name) {
    const existing = await findIndex(client, build);
    if (existing && !existing.valid) {
      // An interrupted CONCURRENTLY build leaves an INVALID index that IF NOT EXISTS would silently accept.
      ctx.session.progress(`migration ${m.id}: dropping INVALID index ${existing.schema}.${build.name} left by an interrupted build`);
      await ctx.watcher.during(
        client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${escapeIdentifier(existing.schema)}.${escapeIdentifier(build.name)}`),
      );
    } else if (existing?.valid && (resuming || ctx.attempt > 1)) {
      alreadyBuilt = true; // the build finished before the run stopped; only the ledger update was missing
    }
  }

  const reindex = parseReindexConcurrently(m.sql);
  if (reindex) {
    for (const leftover of await findReindexLeftovers(client, reindex)) {
      ctx.session.progress(
        `migration ${m.id}: dropping INVALID index ${leftover.schema}.${leftover.name} left by an interrupted REINDEX CONCURRENTLY`,
      );
      await ctx.watcher.during(
        client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${escapeIdentifier(leftover.schema)}.${escapeIdentifier(leftover.name)}`),
      );
    }
  }

  const t0 = performance.now();
  if (!alreadyBuilt) await ctx.watcher.during(client.query(m.sql));
  const durationMs = Math.round(performance.now() - t0);

  if (build?.name) {
    const built = await findIndex(client, build);
    if (!built?.valid) {
      throw refuse(
        FailureType.MigrationFailed,
        `migration ${m.id}: the statement finished but index ${build.name} on ${build.table} is ${built ? 'INVALID' : 'missing'} ` +
          `(another relation may already use that name); rename the index in a new migration or drop the other relation`,
      );
    }
  }
  await client.query(`UPDATE ${LEDGER_TABLE} SET state = 'applied', finished_at = $2, duration_ms = $3 WHERE id = $1`, [
    m.id,
    new Date(),
    durationMs,
  ]);
  return durationMs;
}

// ---------------------------------------------------------------------------------------------------
// Failure classification: lock conflicts are retried here, lost connections and resource faults by the
// activity's retry policy, and SQL errors are permanent.

interface PgErrorFields {
  code?: string;
  message: string;
  position?: string;
  hint?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

const LOCK_CONFLICT_CODES = new Set(['55P03', '40P01']); // lock_not_available, deadlock_detected
const RETRYABLE_CLASSES = ['08', '40', '53', '57P', '58'];

function isSqlState(code: string | undefined): code is string {
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

function lineOf(sql: string, position: string | undefined): number | null {
  const pos = Number(position);
  if (!Number.isInteger(pos) || pos < 1) return null;
  return sql.slice(0, pos - 1).split('\n').length;
}

function describeFailure(err: unknown, m: RunnableMigration, ctx: RunContext): Error {
  if (err instanceof ApplicationFailure) return err;
  const pg = err as PgErrorFields;
  const code = pg.code;
  const where = m.transactional
    ? 'nothing from this file was applied (its transaction rolled back)'
    : `the ledger keeps it 'started' and the rerun checks what the statement left (an INVALID index, or the *_ccnew index of a REINDEX CONCURRENTLY, is dropped and rebuilt)`;

  if (isSqlState(code) && LOCK_CONFLICT_CODES.has(code)) {
    const waited = ctx.watcher.lastLockWait ?? 'a lock whose holder was not observed';
    return transient(
      'MigrationLockTimeout',
      `migration ${m.id}: ${code === '55P03' ? `could not get a lock within lock_timeout (${ctx.opts.lockTimeoutMs} ms)` : 'deadlocked'} ` +
        `in ${ctx.attempt} attempt(s); it waited for ${waited}. ${capitalise(where)}; the step is retried — ` +
        `end or wait out the blocking session`,
    );
  }
  if (!isSqlState(code) || code.startsWith('08') || ['57P01', '57P02', '57P03'].includes(code)) {
    return transient(
      'MigrationInterrupted',
      `migration ${m.id}: the database connection was lost while it ran (${pg.message}); ${where}; the step is retried`,
    );
  }
  if (code === '57014' && /statement timeout/i.test(pg.message)) {
    return refuse(
      FailureType.MigrationFailed,
      `migration ${m.id}: exceeded statement_timeout (${ctx.opts.statementTimeoutMs} ms); ${where}. ` +
        `Raise the statement timeout for this environment or split the work (e.g. batch a backfill)`,
    );
  }
  if (RETRYABLE_CLASSES.some((c) => code.startsWith(c))) {
    return transient('MigrationTransientError', `migration ${m.id}: ${pg.message} (SQLSTATE ${code}); ${where}; the step is retried`);
  }
  const line = lineOf(m.sql, pg.position);
  const objects = [pg.table && `table ${pg.table}`, pg.column && `column ${pg.column}`, pg.constraint && `constraint ${pg.constraint}`]
    .filter(Boolean)
    .join(', ');
  return refuse(
    FailureType.MigrationFailed,
    `migration ${m.id}${line ? ` line ${line}` : ''}: ${pg.message} (SQLSTATE ${code}${objects ? `; ${objects}` : ''})` +
      `${pg.hint ? `. Hint: ${pg.hint}` : ''}. ${capitalise(where)}. ` +
      (m.transactional
        ? 'Fix the file (or the data it trips over) and ship it again'
        : 'Fix the cause (e.g. the data it trips over) and run again'),
    { migration: m.id, sqlState: code, line },
  );
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

async function runMigration(m: RunnableMigration, row: LedgerRow | undefined, session: Session, opts: ApplyOptions): Promise<AppliedMigration> {
  const attempts = opts.lockAttempts ?? DEFAULT_LOCK_ATTEMPTS;
  const progressIntervalMs = opts.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  const sampleEveryMs = Math.min(1000, Math.max(25, Math.floor(opts.lockTimeoutMs / 4)));
  const resuming = row?.state === 'started';
  session.progress(
    `migration ${m.id} (${m.phase}, ${m.transactional ? 'transactional' : 'non-transactional'}): ` +
      `${resuming ? 'resuming after an interrupted run' : 'applying'}`,
  );
  for (let attempt = 1; ; attempt++) {
    const ctx: RunContext = { session, opts, attempt, watcher: new StatementWatcher(session, m.id, sampleEveryMs, progressIntervalMs) };
    try {
      await resetSession(session);
      const durationMs = m.transactional ? await runTransactional(m, ctx) : await runNonTransactional(m, resuming, ctx);
      await resetSession(session);
      session.progress(`migration ${m.id}: applied in ${durationMs} ms`);
      return { id: m.id, phase: m.phase, checksum: m.checksum, durationMs, transactional: m.transactional };
    } catch (err) {
      const code = (err as PgErrorFields).code;
      if (isSqlState(code) && LOCK_CONFLICT_CODES.has(code) && attempt < attempts) {
        const delayMs = Math.min(250 * 2 ** (attempt - 1), 5000) + Math.floor(Math.random() * 100);
        session.progress(
          `migration ${m.id}: ${code === '55P03' ? 'lock_timeout' : 'deadlock'} (waited for ${ctx.watcher.lastLockWait ?? 'a lock'}); ` +
            `attempt ${attempt + 1} of ${attempts} in ${delayMs} ms`,
        );
        await sleep(delayMs);
        continue;
      }
      throw describeFailure(err, m, ctx);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The run.

function validateOptions(opts: ApplyOptions): void {
  const positive = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) {
      throw refuse(FailureType.InvalidInput, `migration option ${name} must be an integer >= ${min} (milliseconds), got ${v}`);
    }
  };
  positive('lockTimeoutMs', opts.lockTimeoutMs, 1);
  positive('statementTimeoutMs', opts.statementTimeoutMs, 1);
  positive('advisoryLockWaitMs', opts.advisoryLockWaitMs, 0);
  if (opts.lockAttempts !== undefined) positive('lockAttempts', opts.lockAttempts, 1);
  if (!opts.workflowId) throw refuse(FailureType.InvalidInput, 'migration option workflowId must be set (it is recorded in the ledger)');
  const seen = new Set<string>();
  for (const m of opts.migrations) {
    if (seen.has(m.id)) throw refuse(FailureType.InvalidInput, `migration ${m.id} is listed twice; each file must appear once`);
    seen.add(m.id);
  }
}

interface RunPlan {
  toApply: RunnableMigration[];
  alreadyApplied: string[];
  skipped: string[];
}

/** Splits the release's files; refuses a selection that would leave an earlier pending migration out of order. */
function planRun(ledger: LedgerRow[], migrations: RunnableMigration[], apply: (m: RunnableMigration) => boolean): RunPlan {
  const stateById = new Map(ledger.map((r) => [r.id, r.state]));
  const ordered = [...migrations].sort((a, b) => compareIds(a.id, b.id));
  const alreadyApplied = ordered.filter((m) => stateById.get(m.id) === 'applied').map((m) => m.id);
  const pending = ordered.filter((m) => stateById.get(m.id) !== 'applied');
  const toApply = pending.filter((m) => apply(m));
  const skippedFiles = pending.filter((m) => !toApply.includes(m));
  for (const later of toApply) {
    const left = skippedFiles.find((earlier) => compareIds(earlier.id, later.id) < 0 && mustPrecede(earlier, later));
    if (left) {
      throw refuse(
        FailureType.MigrationRefused,
        `migration ${later.id} (${later.phase}) was selected but ${left.id} (${left.phase}), which sorts before it, was not; ` +
          `applying it would leave ${left.id} out of order for good — select ${left.id} in the same run or neither`,
      );
    }
  }
  return { toApply, alreadyApplied, skipped: skippedFiles.map((m) => m.id) };
}

/**
 * Applies the selected pending migrations under the database's migration lock, after checking the
 * ledger against the release's files. Safe to run again after a crash at any point.
 */
export async function applyMigrations(opts: ApplyOptions): Promise<ApplyResult> {
  validateOptions(opts);
  const progress = opts.onProgress ?? (() => undefined);
  const progressIntervalMs = opts.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  const session = await openSession(opts.databaseUrl, `deploy-migrate ${opts.workflowId}`, progress);
  try {
    await acquireMigrationLock(session, opts.advisoryLockWaitMs, progressIntervalMs);
    try {
      await ensureLedger(session.client);
      const ledger = await readLedger(session.client);
      const problems = verifyAgainstLedger(ledger, opts.migrations);
      if (problems.length > 0) {
        throw refuse(
          FailureType.MigrationRefused,
          `refusing to migrate database ${session.database}; nothing was run: ${problems.join(' | ')}`,
          { problems },
        );
      }
      const plan = planRun(ledger, opts.migrations, opts.apply);
      const rowById = new Map(ledger.map((r) => [r.id, r]));
      const applied: AppliedMigration[] = [];
      for (const m of plan.toApply) {
        applied.push(await runMigration(m, rowById.get(m.id), session, opts));
      }
      return { applied, alreadyApplied: plan.alreadyApplied, skipped: plan.skipped };
    } finally {
      await releaseMigrationLock(session);
    }
  } finally {
    await closeSession(session);
  }
}

/** Read-only comparison of the database's ledger with a release's files, for pre-checks. Takes no lock. */
export async function checkMigrations(
  databaseUrl: string,
  migrations: MigrationFile[],
): Promise<{ pending: string[]; applied: string[]; problems: string[] }> {
  const client = new Client({ connectionString: databaseUrl, application_name: 'deploy-migrate check' });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw transient('MigrationDatabaseUnavailable', `could not connect to the migration database: ${(err as Error).message}`);
  }
  try {
    await client.query('BEGIN READ ONLY');
    const ledger = await readLedger(client);
    await client.query('COMMIT');
    const appliedIds = new Set(ledger.filter((r) => r.state === 'applied').map((r) => r.id));
    const ordered = [...migrations].sort((a, b) => compareIds(a.id, b.id));
    return {
      pending: ordered.filter((m) => !appliedIds.has(m.id)).map((m) => m.id),
      applied: ordered.filter((m) => appliedIds.has(m.id)).map((m) => m.id),
      problems: verifyAgainstLedger(ledger, migrations),
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}
