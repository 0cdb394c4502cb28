'use strict';
// hello-service 1.1.0: also reports the greeting's locale, a column added by migration 002 (expand).
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { Pool } = require('pg');

const REQUIRED_CONFIG = ['DATABASE_URL', 'GREETING'];
// The one query this version depends on; readiness runs exactly this. Rows that existed before
// migration 002 have no locale; expand adds the column without a backfill, so NULL reads as 'en'.
const GREETING_QUERY = "SELECT message, COALESCE(locale, 'en') AS locale FROM greetings LIMIT 1";

function log(line) {
  process.stdout.write(`hello-service: ${line}\n`);
}

function fail(line) {
  process.stderr.write(`hello-service: ${line}\n`);
  process.exit(1);
}

// The version comes from the build, never from the environment, so a release reports what was built.
function readBuildInfo() {
  const file = path.join(__dirname, 'build-info.json');
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return fail(`${file} is missing or unreadable; run "node build.js" and start dist/server.js`);
  }
}

function readPort() {
  const raw = process.env.PORT;
  if (!raw) return fail('PORT is required: set it to the TCP port to listen on (e.g. PORT=8080)');
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return fail('PORT must be an integer between 1 and 65535');
  }
  return port;
}

// Describes a database failure without echoing connection details (the URL may carry credentials).
function describeDatabaseError(err) {
  const code = err && typeof err.code === 'string' ? err.code : '';
  if (/^[0-9A-Z]{5}$/.test(code)) {
    if (/^(08|28|3D)/.test(code)) return `cannot connect to the database (SQLSTATE ${code})`;
    if (code.startsWith('57')) return `the query did not complete (SQLSTATE ${code})`;
    return `${err.message} (SQLSTATE ${code})`;
  }
  if (code) return `cannot connect to the database (${code})`;
  if (err && /timeout/i.test(String(err.message))) return 'timed out waiting for the database';
  return 'the database query failed';
}

const buildInfo = readBuildInfo();
const port = readPort();
const host = process.env.HOST || '127.0.0.1';

const pool = process.env.DATABASE_URL
  ? new Pool({
      connectionString: process.env.DATABASE_URL,
      application_name: 'hello-service',
      max: 4,
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 10000,
      statement_timeout: 2000,
      query_timeout: 3000,
    })
  : null;
// An idle client losing its connection must not crash the service; the next query reconnects.
if (pool) pool.on('error', (err) => log(`idle database connection lost: ${describeDatabaseError(err)}`));

async function runChecks() {
  const missing = REQUIRED_CONFIG.filter((name) => !process.env[name]);
  const checks = [];
  checks.push(missing.length ? { name: 'config', ok: false, reason: `not set: ${missing.join(', ')}` } : { name: 'config', ok: true });
  if (!pool) {
    checks.push({ name: 'database', ok: false, reason: 'DATABASE_URL is not set' });
    return { checks, row: null };
  }
  try {
    const result = await pool.query(GREETING_QUERY);
    checks.push({ name: 'database', ok: true });
    return { checks, row: result.rows[0] || null };
  } catch (err) {
    checks.push({ name: 'database', ok: false, query: GREETING_QUERY, reason: describeDatabaseError(err) });
    return { checks, row: null };
  }
}

function send(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'cache-control': 'no-store',
  });
  res.end(text);
}

async function handle(req, res) {
  const url = new URL(req.url || '/', 'http://localhost');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'only GET is supported' });
  if (url.pathname === '/healthz') return send(res, 200, 'ok');
  if (url.pathname === '/readyz') {
    const { checks } = await runChecks();
    const failing = checks.filter((c) => !c.ok).map((c) => c.name);
    return send(res, failing.length ? 503 : 200, { status: failing.length ? 'unready' : 'ready', failing, checks });
  }
  if (url.pathname === '/') {
    const { checks, row } = await runChecks();
    const failed = checks.find((c) => !c.ok);
    if (failed) {
      return send(res, 503, { service: buildInfo.service, version: buildInfo.version, error: `${failed.name} check failed: ${failed.reason}` });
    }
    return send(res, 200, {
      service: buildInfo.service,
      version: buildInfo.version,
      greeting: process.env.GREETING,
      message: row ? row.message : null,
      locale: row ? row.locale : null,
    });
  }
  return send(res, 404, { error: `no route for ${url.pathname}` });
}

let stopping = false;
const server = http.createServer((req, res) => {
  // While stopping, ask keep-alive clients (probes, load balancers) to reconnect, so the old release can exit.
  if (stopping) res.setHeader('connection', 'close');
  handle(req, res).catch(() => send(res, 500, { error: 'internal error' }));
});

server.on('error', (err) => fail(`cannot listen on ${host}:${port}: ${err.code || err.message}`));

server.listen(port, host, () => {
  const missing = REQUIRED_CONFIG.filter((name) => !process.env[name]);
  const commit = buildInfo.commit ? ` commit ${String(buildInfo.commit).slice(0, 12)}` : '';
  const warning = missing.length ? `; missing config: ${missing.join(', ')} (not ready until set)` : '';
  log(`${buildInfo.version}${commit} listening on http://${host}:${port} pid ${process.pid}${warning}`);
});

function stop(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal} received, closing`);
  // Give in-flight requests a bounded time; a stuck client must not keep the old release alive forever.
  setTimeout(() => {
    process.stderr.write('hello-service: connections did not close within 10s, exiting\n');
    process.exit(1);
  }, 10000).unref();
  server.close(() => {
    const ended = pool ? pool.end() : Promise.resolve();
    ended.then(
      () => process.exit(0),
      () => process.exit(0),
    );
  });
  server.closeIdleConnections();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
