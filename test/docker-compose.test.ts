import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { DEPLOY_SEARCH_ATTRIBUTES, DEPLOY_SEARCH_ATTRIBUTE_TYPES, startDevServer, type DevServer } from '../scripts/lib/dev-server';
import { findOrBuildTemporalCli } from '../scripts/lib/temporal-cli';
import { NAMESPACE_RETENTION_HOURS, STANDARD_CLUSTER_PORTS, serverArgs, uiServerArgs, CLUSTER_CONFIG_DIR } from '../scripts/lib/cluster';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_SERVER_VERSION } from '../scripts/lib/cluster-binaries';
import { DEFAULT_TEMPORAL_DATABASES } from '../scripts/lib/temporal-databases';

// No container engine runs here: the file's wiring is checked as data, against the deploy/temporal/
// config that `npm run cluster` runs (test/cluster/ renders that config with the real server), and the
// bootstrap script that registers the search attributes is run for real against a dev server.

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
  entrypoint?: string[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

let compose: ComposeFile;
let serverTemplate: string;
let uiTemplate: string;

before(async () => {
  // merge: true resolves the `<<: *anchor` merge keys the way docker compose does.
  compose = parse(await fs.readFile(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
  serverTemplate = await fs.readFile(path.join(CLUSTER_CONFIG_DIR, 'server.yaml'), 'utf8');
  uiTemplate = await fs.readFile(path.join(CLUSTER_CONFIG_DIR, 'ui.yaml'), 'utf8');
});

/** The default a deploy/temporal template gives a variable: `env "NAME" | default "value"`. */
function templateDefault(template: string, variable: string): string {
  const defaults = [...template.matchAll(new RegExp(`env "${variable}" \\| default "([^"]*)"`, 'g'))].map((m) => m[1]);
  assert.ok(defaults.length > 0, `the template reads ${variable} with a default`);
  assert.equal(new Set(defaults).size, 1, `every use of ${variable} has the same default`);
  return defaults[0]!;
}

/** "127.0.0.1:7233:7233" with ${VAR:-default} resolved to the defaults: host IP, host port, container port. */
function publishedPort(spec: string): { ip: string; host: number; container: number } {
  const resolved = spec.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
  const parts = resolved.split(':');
  assert.equal(parts.length, 3, `"${spec}" names the IP to publish on`);
  return { ip: parts[0]!, host: Number(parts[1]), container: Number(parts[2]) };
}

/** The container path where a service mounts ./deploy/temporal, read-only. */
function configMount(s: ComposeService): string {
  const mount = (s.volumes ?? []).find((v) => v.split(':')[0] === './deploy/temporal');
  assert.ok(mount, 'mounts ./deploy/temporal');
  const [, target, mode] = mount.split(':');
  assert.equal(mode, 'ro', 'read-only');
  return target!;
}

/** DEPLOY_SEARCH_ATTRIBUTES as the bootstrap script reads it: "Name=Type" entries, a bare Name being Keyword. */
function searchAttributeEntries(value: string): string[] {
  return value.trim().split(/\s+/).map((entry) => (entry.includes('=') ? entry : `${entry}=Keyword`));
}

/** The contract's search attributes in the same form, in the TypeScript table's order. */
const CONTRACT_ENTRIES = DEPLOY_SEARCH_ATTRIBUTES.map((name) => `${name}=${DEPLOY_SEARCH_ATTRIBUTE_TYPES[name]}`);

/** What `temporal operator search-attribute list -o json` reports for each type. */
const LISTED_TYPE = { Keyword: 'INDEXED_VALUE_TYPE_KEYWORD', Int: 'INDEXED_VALUE_TYPE_INT' } as const;

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
    assert.match(serverTemplate, /pluginName: postgres12/);
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
    assert.equal(ui.environment?.TEMPORAL_ADDRESS, `temporal:${STANDARD_CLUSTER_PORTS.frontend}`);
    assert.equal(ui.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(ui.depends_on?.temporal?.condition, 'service_healthy');
  });

  test('a one-shot admin-tools service registers exactly the nine search attributes, each with its type', async () => {
    const registering = servicesUsingImage('temporalio/admin-tools:').filter(
      ([, s]) => s.environment?.DEPLOY_SEARCH_ATTRIBUTES !== undefined,
    );
    assert.equal(registering.length, 1, 'one admin-tools service carries DEPLOY_SEARCH_ATTRIBUTES');
    const [, bootstrap] = registering[0];
    assert.deepEqual(searchAttributeEntries(bootstrap.environment!.DEPLOY_SEARCH_ATTRIBUTES).sort(), [...CONTRACT_ENTRIES].sort());
    assert.deepEqual(
      searchAttributeEntries(bootstrap.environment!.DEPLOY_SEARCH_ATTRIBUTES).filter((entry) => entry.endsWith('=Int')),
      ['DeployHostsTotal=Int', 'DeployHostsUpdated=Int', 'DeployHostsFailed=Int'],
    );
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

describe('docker-compose.yml and npm run cluster agree (deploy/temporal/)', () => {
  test('the same Temporal versions: server and admin-tools 1.29.1, UI 2.42.1', () => {
    assert.equal(service('temporal').image, `temporalio/server:${TEMPORAL_SERVER_VERSION}`);
    assert.equal(service('temporal-ui').image, `temporalio/ui:${TEMPORAL_UI_SERVER_VERSION}`);
    for (const [name, s] of servicesUsingImage('temporalio/admin-tools:')) {
      assert.ok(s.image!.startsWith(`temporalio/admin-tools:${TEMPORAL_SERVER_VERSION}-`), `${name} uses admin-tools ${TEMPORAL_SERVER_VERSION}`);
    }
  });

  test('the server runs deploy/temporal/server.yaml with the arguments the cluster lane uses', () => {
    const temporal = service('temporal');
    const mount = configMount(temporal);
    // The lane runs one service per process (--service <name>); compose runs them all in one.
    const laneArgs = serverArgs('frontend').slice(0, -2).map((arg) => (arg === CLUSTER_CONFIG_DIR ? mount : arg));
    assert.deepEqual(temporal.entrypoint, ['temporal-server', ...laneArgs]);
    assert.equal(temporal.environment?.DYNAMIC_CONFIG_FILE_PATH, `${mount}/dynamicconfig.yaml`);
  });

  test('the UI server runs deploy/temporal/ui.yaml with the arguments the cluster lane uses', () => {
    const ui = service('temporal-ui');
    const mount = configMount(ui);
    const laneArgs = uiServerArgs().map((arg) => (arg === CLUSTER_CONFIG_DIR ? mount : arg));
    assert.deepEqual(ui.entrypoint, ['/home/ui-server/ui-server', ...laneArgs]);
  });

  test('the same database names in compose, server.yaml and the cluster lane', () => {
    for (const name of ['temporal', 'temporal-schema']) {
      const env = service(name).environment ?? {};
      assert.equal(env.DBNAME, DEFAULT_TEMPORAL_DATABASES.temporal, `${name} DBNAME`);
      assert.equal(env.VISIBILITY_DBNAME, DEFAULT_TEMPORAL_DATABASES.visibility, `${name} VISIBILITY_DBNAME`);
    }
    assert.equal(templateDefault(serverTemplate, 'DBNAME'), DEFAULT_TEMPORAL_DATABASES.temporal);
    assert.equal(templateDefault(serverTemplate, 'VISIBILITY_DBNAME'), DEFAULT_TEMPORAL_DATABASES.visibility);
    assert.equal(service('temporal').environment?.POSTGRES_PWD, service('temporal-schema').environment?.POSTGRES_PWD);
  });

  test('the same ports: frontend 7233 and UI 8080, published on 127.0.0.1 only by default', () => {
    assert.equal(Number(templateDefault(serverTemplate, 'FRONTEND_GRPC_PORT')), STANDARD_CLUSTER_PORTS.frontend);
    assert.equal(Number(templateDefault(uiTemplate, 'TEMPORAL_UI_PORT')), STANDARD_CLUSTER_PORTS.ui);
    const frontend = (service('temporal').ports ?? []).map(publishedPort);
    assert.deepEqual(frontend, [{ ip: '127.0.0.1', host: STANDARD_CLUSTER_PORTS.frontend, container: STANDARD_CLUSTER_PORTS.frontend }]);
    const ui = service('temporal-ui');
    assert.equal(Number(ui.environment?.TEMPORAL_UI_PORT), STANDARD_CLUSTER_PORTS.ui);
    assert.deepEqual((ui.ports ?? []).map(publishedPort), [{ ip: '127.0.0.1', host: STANDARD_CLUSTER_PORTS.ui, container: STANDARD_CLUSTER_PORTS.ui }]);
    for (const [name, s] of Object.entries(compose.services)) {
      for (const spec of s.ports ?? []) assert.notEqual(publishedPort(spec).ip, '0.0.0.0', `${name} publishes on every interface by default`);
    }
  });

  test('the same namespace and search attributes as the cluster lane registers', () => {
    const env = service('temporal-bootstrap').environment ?? {};
    assert.equal(env.TEMPORAL_NAMESPACE, 'default');
    assert.equal(env.TEMPORAL_NAMESPACE_RETENTION, `${NAMESPACE_RETENTION_HOURS}h`);
    // Spelled out in full, each with its type, in the same order as the TypeScript table.
    assert.deepEqual(env.DEPLOY_SEARCH_ATTRIBUTES.trim().split(/\s+/), CONTRACT_ENTRIES);
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

  const composeAttributes = () => service('temporal-bootstrap').environment!.DEPLOY_SEARCH_ATTRIBUTES;

  const runBootstrap = (namespace: string, attributes = composeAttributes()) =>
    execFileAsync('sh', [path.join(ROOT, 'deploy/compose/temporal-bootstrap.sh')], {
      env: {
        ...process.env,
        PATH: `${binDir}${path.delimiter}${process.env.PATH}`,
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: namespace,
        DEPLOY_SEARCH_ATTRIBUTES: attributes,
      },
    });

  const listAttributes = async (namespace: string): Promise<Record<string, string>> => {
    const { stdout } = await execFileAsync(path.join(binDir, 'temporal'), [
      'operator', 'search-attribute', 'list', '--address', server.address, '--namespace', namespace, '-o', 'json',
    ]);
    return (JSON.parse(stdout) as { customAttributes: Record<string, string> }).customAttributes;
  };

  const namespaceExists = async (namespace: string): Promise<boolean> =>
    execFileAsync(path.join(binDir, 'temporal'), ['operator', 'namespace', 'describe', '--address', server.address, '--namespace', namespace]).then(
      () => true,
      () => false,
    );

  test('creates a missing namespace, registers the attributes with their types, and is a no-op the second time', async () => {
    const namespace = `bootstrap-${process.pid}-${Date.now()}`;
    const first = await runBootstrap(namespace);
    assert.match(first.stdout, new RegExp(`Namespace ${namespace} created`));

    const custom = await listAttributes(namespace);
    for (const name of DEPLOY_SEARCH_ATTRIBUTES) assert.equal(custom[name], LISTED_TYPE[DEPLOY_SEARCH_ATTRIBUTE_TYPES[name]], name);

    const second = await runBootstrap(namespace);
    assert.match(second.stdout, new RegExp(`Namespace ${namespace} exists`));
    assert.match(second.stdout, /Search attributes registered/);
  });

  test('a bare name is Keyword; an attribute that exists with another type fails, naming both types', async () => {
    const namespace = `bootstrap-mistyped-${process.pid}-${Date.now()}`;
    // As an older bootstrap would have left it: names only, so the host counts registered as Keyword.
    await runBootstrap(namespace, 'DeployService DeployHostsFailed');
    const custom = await listAttributes(namespace);
    assert.deepEqual([custom.DeployService, custom.DeployHostsFailed], [LISTED_TYPE.Keyword, LISTED_TYPE.Keyword]);

    await assert.rejects(runBootstrap(namespace), (err: Error & { code?: number; stderr?: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr ?? '', new RegExp(`Search attribute DeployHostsFailed exists in namespace ${namespace} with type Keyword; the deploy workflow needs Int\\.`));
      assert.match(err.stderr ?? '', /temporal operator search-attribute remove --name DeployHostsFailed/);
      return true;
    });
  });

  test('an entry with a type the workflow does not use fails before the namespace is created', async () => {
    const namespace = `bootstrap-badtype-${process.pid}-${Date.now()}`;
    await assert.rejects(runBootstrap(namespace, 'DeployService=Keyword DeployHostsTotal=Integer'), (err: Error & { code?: number; stderr?: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr ?? '', /DeployHostsTotal=Integer has type "Integer"; expected Name=Keyword or Name=Int/);
      return true;
    });
    assert.equal(await namespaceExists(namespace), false);
  });
});
