import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { Client as PgClient } from 'pg';
import { CLUSTER_CONFIG_DIR, STANDARD_CLUSTER_PORTS, serverArgs, serverEnvironment } from '../../scripts/lib/cluster';
import { findOrBuildClusterBinaries, type ClusterBinaries } from '../../scripts/lib/cluster-binaries';
import { DEFAULT_TEMPORAL_DATABASES, prepareTemporalDatabases, schemaVersion, type PostgresEndpoint } from '../../scripts/lib/temporal-databases';
import { REPO_ROOT } from '../helpers/deploy-world';
import { ADMIN_DATABASE_URL } from '../helpers/pg';

/**
 * docker-compose.yml cannot run here (no container engine), so what it would run is run with the cluster
 * lane's own builds of the same versions: the server renders deploy/temporal/server.yaml from the compose
 * service's environment exactly as from the lane's, and deploy/compose/temporal-schema.sh (the compose
 * schema job) leaves PostgreSQL at the schema versions the lane's temporal-sql-tool steps reach.
 */

const execFileAsync = promisify(execFile);

interface RenderedConfig {
  persistence: { numHistoryShards: number; datastores: Record<'default' | 'visibility', { sql: { databaseName: string; connectAddr: string; pluginName: string; user: string } }> };
  services: Record<string, { rpc: { grpcPort: number; membershipPort: number; bindOnIP: string; httpPort: number } }>;
  dynamicConfigClient: { filepath: string };
}

let binaries: ClusterBinaries;
let composeTemporalEnv: Record<string, string>;
let composeSchemaEnv: Record<string, string>;
const databasesToDrop: string[] = [];

const endpoint: PostgresEndpoint = (() => {
  const url = new URL(ADMIN_DATABASE_URL);
  return { host: url.hostname, port: Number(url.port || 5432), user: decodeURIComponent(url.username || 'postgres'), password: decodeURIComponent(url.password) };
})();

/** Compose's ${POSTGRES_PASSWORD:?…} references replaced by a value, as docker compose would with the variable set. */
function resolved(env: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, String(v).replace(/\$\{POSTGRES_PASSWORD:\?[^}]*\}/g, 'compose-password')]));
}

before(async () => {
  binaries = await findOrBuildClusterBinaries();
  const compose = parse(await fs.readFile(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string> }>;
  };
  composeTemporalEnv = resolved(compose.services.temporal?.environment);
  composeSchemaEnv = resolved(compose.services['temporal-schema']?.environment);
});

after(async () => {
  const admin = new PgClient({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    for (const db of databasesToDrop) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
});

/** `temporal-server … render-config` of deploy/temporal/server.yaml under `env` (nothing else from this process). */
async function render(env: Record<string, string>): Promise<RenderedConfig> {
  // The lane's arguments up to `start`, with render-config instead: the same --config and --env.
  const args = serverArgs('frontend');
  const globalArgs = args.slice(0, args.indexOf('start')).filter((arg) => arg !== '--allow-no-auth');
  const { stdout } = await execFileAsync(binaries.server, [...globalArgs, 'render-config'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    timeout: 30_000,
  });
  return parse(stdout) as RenderedConfig;
}

describe('deploy/temporal/server.yaml under docker-compose.yml and under npm run cluster', () => {
  test('compose’s environment renders PostgreSQL persistence and visibility on the compose databases, frontend on 7233', async () => {
    const config = await render(composeTemporalEnv);
    const { default: persistence, visibility } = config.persistence.datastores;
    assert.equal(persistence.sql.pluginName, 'postgres12');
    assert.equal(persistence.sql.databaseName, DEFAULT_TEMPORAL_DATABASES.temporal);
    assert.equal(visibility.sql.databaseName, DEFAULT_TEMPORAL_DATABASES.visibility);
    assert.equal(persistence.sql.connectAddr, 'postgresql:5432');
    assert.equal(config.services.frontend!.rpc.grpcPort, STANDARD_CLUSTER_PORTS.frontend);
    assert.equal(config.services.frontend!.rpc.bindOnIP, '0.0.0.0');
    assert.equal(config.dynamicConfigClient.filepath, composeTemporalEnv.DYNAMIC_CONFIG_FILE_PATH);
  });

  test('the lane’s environment with the standard ports renders the same databases, shards and service ports', async () => {
    const lane = await render(serverEnvironment({ endpoint, databases: DEFAULT_TEMPORAL_DATABASES, ports: STANDARD_CLUSTER_PORTS }));
    const compose = await render(composeTemporalEnv);
    const shape = (c: RenderedConfig) => ({
      shards: c.persistence.numHistoryShards,
      databases: [c.persistence.datastores.default.sql.databaseName, c.persistence.datastores.visibility.sql.databaseName],
      plugin: c.persistence.datastores.default.sql.pluginName,
      ports: Object.fromEntries(Object.entries(c.services).map(([name, s]) => [name, [s.rpc.grpcPort, s.rpc.membershipPort, s.rpc.httpPort]])),
    });
    assert.deepEqual(shape(lane), shape(compose));
    assert.equal(lane.services.frontend!.rpc.bindOnIP, '127.0.0.1', 'the lane listens on loopback only');
    assert.equal(lane.dynamicConfigClient.filepath, path.join(CLUSTER_CONFIG_DIR, 'dynamicconfig.yaml'));
  });
});

describe('deploy/compose/temporal-schema.sh with this build of temporal-sql-tool', () => {
  let binDir: string;

  before(async () => {
    // The script calls temporal-sql-tool from PATH, as in the admin-tools image.
    binDir = await fs.mkdtemp(path.join(os.tmpdir(), 'schema-bin-'));
    await fs.symlink(binaries.sqlTool, path.join(binDir, 'temporal-sql-tool'));
  });

  after(async () => {
    if (binDir) await fs.rm(binDir, { recursive: true, force: true });
  });

  test('creates both databases at the schema versions the lane reaches, and is a no-op the second time', async () => {
    const name = `t_compose_schema_${randomBytes(3).toString('hex')}`;
    const viaScript = { temporal: name, visibility: `${name}_visibility` };
    const viaLane = { temporal: `${name}_lane`, visibility: `${name}_lane_visibility` };
    databasesToDrop.push(...Object.values(viaScript), ...Object.values(viaLane));

    const runScript = () =>
      execFileAsync('sh', [path.join(REPO_ROOT, 'deploy/compose/temporal-schema.sh')], {
        env: {
          ...composeSchemaEnv,
          PATH: `${binDir}${path.delimiter}${process.env.PATH}`,
          // The local server instead of the compose network's; trust authentication ignores the password.
          POSTGRES_SEEDS: endpoint.host,
          DB_PORT: String(endpoint.port),
          DBNAME: viaScript.temporal,
          VISIBILITY_DBNAME: viaScript.visibility,
        },
        timeout: 5 * 60_000,
      });
    const first = await runScript();
    assert.match(first.stdout, /Temporal schemas are up to date/);
    const lane = await prepareTemporalDatabases({ sqlTool: binaries.sqlTool, endpoint, databases: viaLane });

    assert.equal(await schemaVersion(endpoint, viaScript.temporal), lane.temporal);
    assert.equal(await schemaVersion(endpoint, viaScript.visibility), lane.visibility);
    assert.match(lane.temporal, /^\d+\.\d+$/);

    await runScript();
    assert.equal(await schemaVersion(endpoint, viaScript.temporal), lane.temporal, 'a second run changes nothing');
  });
});
