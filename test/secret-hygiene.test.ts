import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { WorkflowHandle } from '@temporalio/client';
import { freePort } from '../scripts/lib/dev-server';
import type { DeployResult } from '../src/workflows/types';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';

/**
 * Secrets never enter history, search attributes, logs, results, the registry or artifacts. Unique values
 * are planted in the worker's environment and in the targets' config sources; after a success, a rollback
 * (2.0.0) and a deploy refused by its pre-checks, every place the orchestrator writes is scanned, and a
 * failure names each place a value was found.
 */

const planted = (name: string) => `planted-${name}-${randomBytes(12).toString('hex')}`;
const SECRETS = {
  workerSecretToken: planted('worker-secret-token'),
  workerFakeApiKey: planted('worker-cloud-api-key'),
  stagingHelloToken: '', // HELLO_API_TOKEN as setup generated it, read below
  stagingSecret: planted('staging-secret'),
  stagingDbPassword: planted('staging-db-password'),
  qaHelloToken: planted('qa-hello-token'),
  qaSecret: planted('qa-secret'),
  qaDbPassword: planted('qa-db-password'),
};

/** Not a secret: free text deliberately recorded (the deploy's reason), to prove the scan sees payloads. */
const CANARY = planted('canary-reason').replace(/-/g, '_');

let world: DeployWorld;
let worker: ChildProcess;
const results: Array<{ label: string; result: DeployResult }> = [];
const handles: WorkflowHandle[] = [];
let qaEnvFile: string;
let qaRoot: string;

before(async () => {
  const qaPort = await freePort();
  const closedPort = await freePort(); // nothing listens here: the qa database is unreachable
  world = await startDeployWorld({
    specOverrides: (spec) => {
      // qa: same service, its own config source whose database cannot be reached → pre-checks fail.
      const dir = path.dirname(spec.environments.staging.config.envFile);
      qaEnvFile = path.join(dir, 'qa.env');
      qaRoot = path.join(path.dirname(spec.environments.staging.target.root), 'qa');
      spec.environments.qa = {
        ...structuredClone(spec.environments.staging),
        config: { envFile: qaEnvFile },
        dependencies: [],
        target: { ...spec.environments.staging.target, root: qaRoot, port: qaPort },
      };
    },
  });

  // Plant values in the config sources (the env files the worker reads and hands to the service).
  const stagingFile = world.example.envFiles.staging;
  const text = await fs.readFile(stagingFile, 'utf8');
  SECRETS.stagingHelloToken = /^HELLO_API_TOKEN=(.+)$/m.exec(text)![1]!;
  assert.ok(SECRETS.stagingHelloToken.length >= 16, 'setup generates a HELLO_API_TOKEN');
  // The local server trusts 127.0.0.1, so a password in the URL is sent nowhere it matters yet must stay secret.
  const withPassword = text.replace(/^DATABASE_URL=postgres:\/\/postgres@/m, `DATABASE_URL=postgres://postgres:${SECRETS.stagingDbPassword}@`);
  assert.notEqual(withPassword, text, 'staging DATABASE_URL has the expected shape');
  await fs.writeFile(stagingFile, `${withPassword}SECRET=${SECRETS.stagingSecret}\n`, { mode: 0o600 });
  await fs.writeFile(
    qaEnvFile,
    [
      `DATABASE_URL=postgres://postgres:${SECRETS.qaDbPassword}@127.0.0.1:${closedPort}/hello_qa`,
      'GREETING=Hello from qa',
      `HELLO_API_TOKEN=${SECRETS.qaHelloToken}`,
      `SECRET=${SECRETS.qaSecret}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  // Plant values in the worker's own environment: a real worker process, at debug log level.
  worker = await world.spawnWorker({ SECRET_TOKEN: SECRETS.workerSecretToken, TEMPORAL_CLOUD_API_KEY: SECRETS.workerFakeApiKey, LOG_LEVEL: 'DEBUG' });

  const run = async (label: string, input: { environment: string; version: string; reason?: string }, expected: string) => {
    const handle = await world.deploy(input);
    handles.push(handle);
    const { status, result } = await world.outcome(handle);
    assert.equal(status, expected, `${label}: ${JSON.stringify(result?.timeline ?? result, null, 1)?.slice(0, 3000)}`);
    results.push({ label, result });
  };
  await run('success (staging 1.0.0)', { environment: 'staging', version: '1.0.0', reason: CANARY }, 'succeeded');
  await checkServiceEnvironment();
  await run('rollback (staging 2.0.0)', { environment: 'staging', version: '2.0.0' }, 'rolled_back');
  await run('failed pre-checks (qa 1.0.0)', { environment: 'qa', version: '1.0.0' }, 'failed');
});
after(async () => {
  await fs.rm(qaRoot, { recursive: true, force: true }).catch(() => undefined);
  await world?.cleanup();
});

let serviceEnvironChecked = false;
/** The planted config values are real: the service got them; the worker's own secrets it did not get. */
async function checkServiceEnvironment(): Promise<void> {
  const pidFile = path.join(world.targetRoot('staging'), 'service.pid');
  const { pid } = JSON.parse(await fs.readFile(pidFile, 'utf8')) as { pid: number };
  if (!existsSync(`/proc/${pid}/environ`)) return;
  const environ = (await fs.readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
  assert.ok(environ.includes(`SECRET=${SECRETS.stagingSecret}`), 'the service received SECRET from its config source');
  assert.ok(environ.includes(`HELLO_API_TOKEN=${SECRETS.stagingHelloToken}`), 'the service received HELLO_API_TOKEN');
  assert.ok(!environ.some((e) => e.includes(SECRETS.workerSecretToken) || e.includes(SECRETS.workerFakeApiKey)), "the worker's own secrets leaked into the service's environment");
  serviceEnvironChecked = true;
}

/**
 * Plain data with every binary field (payload data and metadata) decoded as UTF-8 text. Walked by hand:
 * the protobuf classes' own toJSON would turn payloads into base64, hiding what they carry from a scan.
 */
function plain(v: unknown): unknown {
  if (v === null || v === undefined) return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  const o = v as Record<string, unknown>;
  if (typeof o.low === 'number' && typeof o.high === 'number' && typeof o.toString === 'function') return String(o); // Long
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) out[k] = plain(o[k]);
  return out;
}
const decodedJson = (value: unknown) => JSON.stringify(plain(value));

/** The event's kind, from the one *EventAttributes field it carries. */
const eventKind = (e: object) => Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k]) ?? 'unknown';

interface Scanned {
  location: string;
  text: string;
}

/** Every place the orchestrator records something, as text. */
async function collect(): Promise<Scanned[]> {
  const out: Scanned[] = [];
  // Exported histories of every run in the namespace, with payloads decoded; descriptions carry search attributes and summaries.
  let runs = 0;
  for await (const wf of world.client.workflow.list()) {
    runs++;
    const handle = world.client.workflow.getHandle(wf.workflowId, wf.runId);
    const history = await handle.fetchHistory();
    for (const e of history.events ?? []) out.push({ location: `history of ${wf.workflowId}/${wf.runId} event ${e.eventId} (${eventKind(e)})`, text: decodedJson(e) });
    const desc = await handle.describe();
    out.push({ location: `search attributes of ${wf.workflowId}/${wf.runId}`, text: decodedJson({ sa: desc.searchAttributes, typed: desc.typedSearchAttributes }) });
    out.push({ location: `description (memo, summary, details) of ${wf.workflowId}/${wf.runId}`, text: decodedJson({ raw: desc.raw, memo: desc.memo, summary: await describeText(desc) }) });
  }
  assert.ok(runs >= 3, `expected at least the three deploys in the namespace, found ${runs}`);
  // Status queries of the finished runs (the timeline operators read).
  for (const h of handles) out.push({ location: `status query of ${h.workflowId}`, text: decodedJson(await world.status(h)) });
  // The DeployResults.
  for (const r of results) out.push({ location: `DeployResult of ${r.label}`, text: JSON.stringify(r.result) });
  // The worker's stdout and stderr.
  out.push({ location: 'worker stdout/stderr', text: world.workerOutput(worker) });
  // The release registry.
  for (const row of await world.orchestratorDb.query('SELECT * FROM deploy_releases ORDER BY id')) {
    out.push({ location: `registry row deploy_releases.id=${row.id} (${row.environment} ${row.version} ${row.status})`, text: decodedJson(row) });
  }
  for (const row of await world.orchestratorDb.query('SELECT * FROM deploy_contract_baselines')) out.push({ location: 'registry deploy_contract_baselines', text: decodedJson(row) });
  // Artifacts: every file of the store, tarballs decompressed (the tar stream carries names and contents as is).
  for (const file of await listFiles(path.join(world.dataDir, 'artifacts'))) {
    const bytes = await fs.readFile(file);
    const text = file.endsWith('.gz') || (bytes[0] === 0x1f && bytes[1] === 0x8b) ? gunzipSync(bytes).toString('latin1') : bytes.toString('latin1');
    out.push({ location: `artifact store file ${path.relative(world.dataDir, file)}`, text });
  }
  // The orchestrator's own bookkeeping on the targets (not the service's logs, which are the service's business).
  for (const root of [world.targetRoot('staging'), qaRoot]) {
    for (const file of await listFiles(root)) {
      const base = path.basename(file);
      if (base === 'deploy-state.json' || base === 'service.pid' || base === '.deploy-release.json') {
        out.push({ location: `target file ${path.relative(world.dataDir, file)}`, text: await fs.readFile(file, 'utf8') });
      }
    }
  }
  return out;
}

/** The static summary and details, decoded by the client (they are payloads in the raw description). */
async function describeText(desc: { staticSummary?: () => Promise<string | undefined>; staticDetails?: () => Promise<string | undefined> }): Promise<unknown> {
  return { summary: await desc.staticSummary?.(), details: await desc.staticDetails?.() };
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const e of entries) {
    const p = path.join(dir, e.name);
    // Release directories hold the service's own code; only the orchestrator's metadata there is scanned.
    if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'logs') files.push(...(await listFiles(p)));
    else if (e.isFile()) files.push(p);
  }
  return files;
}

test('the three deploys happened as planned: success, rollback of 2.0.0, refused by pre-checks', () => {
  assert.deepEqual(results.map((r) => r.result.outcome), ['succeeded', 'rolled_back', 'failed']);
  const qa = results[2]!.result;
  const pre = qa.stages.find((s) => s.stage === 'preChecks');
  assert.equal(pre?.status, 'failed', JSON.stringify(qa.stages));
  // The failing check talked about the database named by its config NAME, not its value.
  assert.match(qa.reason ?? '', /DATABASE_URL/);
  assert.ok(serviceEnvironChecked || !existsSync('/proc/self/environ'), 'the planted config reached the service');
});

test('no planted secret appears in histories, search attributes, logs, results, the registry or artifacts', async () => {
  const scanned = await collect();
  const kinds = new Set(scanned.map((s) => s.location.split(' ')[0]));
  for (const k of ['history', 'search', 'DeployResult', 'worker', 'registry', 'artifact', 'target']) assert.ok(kinds.has(k), `nothing scanned for ${k}: ${[...kinds].join(', ')}`);
  assert.ok(scanned.some((s) => s.location.startsWith('artifact store file') && s.text.includes('dist/server.js')), 'the artifact tarball was decompressed and scanned');
  assert.ok(world.workerOutput(worker).includes('worker ready'), 'the worker output was captured');

  // The scan can see: the canary, carried in encoded payloads, is found in history and the result.
  const canaryAt = scanned.filter((s) => s.text.includes(CANARY)).map((s) => s.location);
  assert.ok(canaryAt.some((l) => l.startsWith('history of') && l.includes('workflowExecutionStartedEventAttributes')), `canary not seen in history: ${canaryAt.join('; ')}`);
  assert.ok(canaryAt.some((l) => l.startsWith('history of') && l.includes('activityTaskScheduledEventAttributes')), `canary not seen in the plan's input: ${canaryAt.join('; ')}`);
  assert.ok(canaryAt.some((l) => l.startsWith('description')), `canary not seen in the static details: ${canaryAt.join('; ')}`);

  const found: string[] = [];
  for (const [name, value] of Object.entries(SECRETS)) {
    assert.ok(value.length >= 16, `${name} is planted`);
    const forms = [value, Buffer.from(value).toString('base64'), Buffer.from(value).toString('hex')];
    for (const s of scanned) {
      for (const form of forms) {
        if (s.text.includes(form)) found.push(`${name} ${form === value ? '' : '(encoded) '}in ${s.location}`);
      }
    }
  }
  assert.deepEqual(found, [], `planted secrets found:\n${found.join('\n')}`);
});
