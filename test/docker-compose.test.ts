import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { DEPLOY_SEARCH_ATTRIBUTES, startDevServer, type DevServer } from '../scripts/lib/dev-server';
import { findOrBuildTemporalCli } from '../scripts/lib/temporal-cli';

// No container engine runs here: the file's wiring is checked as data, and the bootstrap script that
// registers the search attributes is run for real against a dev server.

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string } | string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  command?: string[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

let compose: ComposeFile;

before(async () => {
  // merge: true resolves the `<<: *anchor` merge keys the way docker compose does.
  compose = parse(await fs.readFile(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
});

function service(name: string): ComposeService {
  const found = compose.services[name];
  assert.ok(found, `docker-compose.yml has a service "${name}"`);
  return found;
}

function servicesUsingImage(prefix: string): [string, ComposeService][] {
  return Object.entries(compose.services).filter(([, s]) => s.image?.startsWith(prefix));
}

function healthcheckText(s: ComposeService): string {
  assert.ok(s.healthcheck, 'has a healthcheck');
  return Array.isArray(s.healthcheck.test) ? s.healthcheck.test.join(' ') : s.healthcheck.test;
}

/** The host-side path of a bind mount "./x:/y[:ro]"; undefined for named volumes. */
function bindSource(volume: string): string | undefined {
  const source = volume.split(':')[0];
  return source.startsWith('.') || source.startsWith('/') ? source : undefined;
}

describe('docker-compose.yml wiring', () => {
  test('the worker is built from the Dockerfile, which compiles with tsc and runs dist/worker/main.js', async () => {
    const worker = service('worker');
    assert.equal(typeof worker.build, 'object');
    const build = worker.build as { context?: string; dockerfile?: string };
    assert.equal(build.context, '.');
    const dockerfile = await fs.readFile(path.join(ROOT, build.dockerfile ?? 'Dockerfile'), 'utf8');
    assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2, 'the Dockerfile is multi-stage');
    assert.match(dockerfile, /tsc -p tsconfig\.build\.json/);
    assert.match(dockerfile, /CMD \["node", "dist\/worker\/main\.js"\]/);
  });

  test('the worker talks to the temporal service and the postgresql service', () => {
    const worker = service('worker');
    const env = worker.environment ?? {};
    assert.equal(env.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.ok(service('temporal').image?.startsWith('temporalio/server:'));

    const databaseUrl = new URL(env.DEPLOY_DATABASE_URL.replace(/\$\{[^}]*\}/g, 'x'));
    assert.equal(databaseUrl.hostname, 'postgresql');
    assert.equal(databaseUrl.port, '5432');
    assert.equal(databaseUrl.pathname, '/deployer');
    assert.equal(service('postgresql').environment?.POSTGRES_DB, 'deployer');

    assert.equal(worker.depends_on?.temporal?.condition, 'service_healthy');
    assert.equal(worker.depends_on?.postgresql?.condition, 'service_healthy');
    assert.equal(worker.depends_on?.['temporal-bootstrap']?.condition, 'service_completed_successfully');
  });

  test('the Temporal server persists to PostgreSQL once its schema is set up', () => {
    const temporal = service('temporal');
    const env = temporal.environment ?? {};
    assert.equal(env.DB, 'postgres12');
    assert.equal(env.POSTGRES_SEEDS, 'postgresql');
    assert.equal(temporal.depends_on?.['temporal-schema']?.condition, 'service_completed_successfully');
    assert.equal(service('temporal-schema').depends_on?.postgresql?.condition, 'service_healthy');
    assert.equal(service('temporal-schema').environment?.POSTGRES_SEEDS, 'postgresql');
  });

  test('PostgreSQL keeps its data in a named volume', () => {
    const mounts = service('postgresql').volumes ?? [];
    const data = mounts.find((m) => m.split(':')[1] === '/var/lib/postgresql/data');
    assert.ok(data, 'postgresql mounts /var/lib/postgresql/data');
    const volumeName = data.split(':')[0];
    assert.ok(compose.volumes && volumeName in compose.volumes, `volume ${volumeName} is declared at the top level`);
  });

  test('postgresql, temporal and the worker have healthchecks; the worker’s probes /readyz', () => {
    assert.match(healthcheckText(service('postgresql')), /pg_isready/);
    assert.match(healthcheckText(service('temporal')), /7233/);
    const worker = service('worker');
    assert.match(healthcheckText(worker), new RegExp(`127\\.0\\.0\\.1:${worker.environment?.WORKER_HEALTH_PORT}/readyz`));
  });

  test('the Web UI points at the server', () => {
    const ui = service('temporal-ui');
    assert.ok(ui.image?.startsWith('temporalio/ui:'));
    assert.equal(ui.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(ui.depends_on?.temporal?.condition, 'service_healthy');
  });

  test('a one-shot admin-tools service registers exactly the six search attributes', async () => {
    const registering = servicesUsingImage('temporalio/admin-tools:').filter(
      ([, s]) => s.environment?.DEPLOY_SEARCH_ATTRIBUTES !== undefined,
    );
    assert.equal(registering.length, 1, 'one admin-tools service carries DEPLOY_SEARCH_ATTRIBUTES');
    const [, bootstrap] = registering[0];
    assert.deepEqual(bootstrap.environment!.DEPLOY_SEARCH_ATTRIBUTES.split(/\s+/).sort(), [...DEPLOY_SEARCH_ATTRIBUTES].sort());
    assert.equal(bootstrap.environment!.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(bootstrap.depends_on?.temporal?.condition, 'service_healthy');
  });

  test('every dependency names a service and every bind mount exists', async () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const dependency of Object.keys(s.depends_on ?? {})) {
        assert.ok(compose.services[dependency], `${name} depends on unknown service ${dependency}`);
      }
      for (const volume of s.volumes ?? []) {
        const source = bindSource(volume);
        if (source) await fs.access(path.join(ROOT, source));
      }
    }
  });

  test('no password is written into the file: they all come from POSTGRES_PASSWORD', async () => {
    const text = await fs.readFile(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    const secretKeys = /^\s*(POSTGRES_PASSWORD|POSTGRES_PWD|SQL_PASSWORD):\s*(.*)$/gm;
    let found = 0;
    for (const match of text.matchAll(secretKeys)) {
      found++;
      assert.match(match[2], /^\$\{POSTGRES_PASSWORD:\?/, `${match[1]} must come from the environment`);
    }
    assert.ok(found >= 3);
    const databaseUrl = service('worker').environment!.DEPLOY_DATABASE_URL;
    assert.match(databaseUrl, /^postgres:\/\/postgres:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgresql:5432\/deployer$/);
  });
});

describe('deploy/compose/temporal-bootstrap.sh against a real server', () => {
  let server: DevServer;
  let binDir: string;

  before(async () => {
    const cli = await findOrBuildTemporalCli();
    server = await startDevServer({ cli, headless: true });
    // The script calls `temporal` from PATH, as in the admin-tools image.
    binDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bootstrap-bin-'));
    await fs.symlink(cli, path.join(binDir, 'temporal'));
  });

  after(async () => {
    await server?.stop();
    if (binDir) await fs.rm(binDir, { recursive: true, force: true });
  });

  const runBootstrap = (namespace: string) =>
    execFileAsync('sh', [path.join(ROOT, 'deploy/compose/temporal-bootstrap.sh')], {
      env: {
        ...process.env,
        PATH: `${binDir}${path.delimiter}${process.env.PATH}`,
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: namespace,
        DEPLOY_SEARCH_ATTRIBUTES: service('temporal-bootstrap').environment!.DEPLOY_SEARCH_ATTRIBUTES,
      },
    });

  test('creates a missing namespace, registers the attributes, and is a no-op the second time', async () => {
    const namespace = `bootstrap-${process.pid}-${Date.now()}`;
    const first = await runBootstrap(namespace);
    assert.match(first.stdout, new RegExp(`Namespace ${namespace} created`));

    const { stdout } = await execFileAsync(path.join(binDir, 'temporal'), [
      'operator', 'search-attribute', 'list', '--address', server.address, '--namespace', namespace, '-o', 'json',
    ]);
    const custom = (JSON.parse(stdout) as { customAttributes: Record<string, string> }).customAttributes;
    for (const name of DEPLOY_SEARCH_ATTRIBUTES) assert.equal(custom[name], 'INDEXED_VALUE_TYPE_KEYWORD', name);

    const second = await runBootstrap(namespace);
    assert.match(second.stdout, new RegExp(`Namespace ${namespace} exists`));
    assert.match(second.stdout, /Search attributes registered/);
  });
});
