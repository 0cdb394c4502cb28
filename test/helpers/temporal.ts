import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, startDevServer, type DevServer } from '../../scripts/lib/dev-server';
import { findOrBuildTemporalCli } from '../../scripts/lib/temporal-cli';

export interface TestTemporalOptions {
  /** SQLite file for the server; default a fresh file in a temp dir (removed by stop()). */
  dbFilename?: string;
  /** Start the Web UI too (default headless; TEST_TEMPORAL_UI=1 also turns it on, to watch a test). */
  ui?: boolean;
}

export interface TestTemporal {
  address: string;
  port: number;
  uiPort?: number;
  cli: string;
  /** The dev server's SQLite file (a server of another kind, e.g. a cluster on PostgreSQL, has none). */
  dbFilename?: string;
  /** Stops the server; removes the temp dir when the db file was the helper's own. Safe to call twice. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port and database file, as after a crash or upgrade. */
  restart(): Promise<void>;
}

/** Starts a dev server of its own for one test file, on free ports, with the contract's search attributes. */
export async function startTestTemporal(options: TestTemporalOptions = {}): Promise<TestTemporal> {
  const cli = await findOrBuildTemporalCli();
  const ownDir = options.dbFilename ? undefined : await fs.mkdtemp(path.join(os.tmpdir(), 'test-temporal-'));
  const dbFilename = options.dbFilename ?? path.join(ownDir!, 'temporal.db');
  const headless = !(options.ui ?? process.env.TEST_TEMPORAL_UI === '1');
  const port = await freePort();
  const uiPort = headless ? undefined : await freePort();
  // The log sits next to the db file so a failing test can be investigated afterwards.
  const logFile = `${dbFilename}.log`;

  const start = () => startDevServer({ cli, dbFilename, port, uiPort, headless, logFile });
  let server: DevServer | undefined = await start();
  let stopped = false;

  return {
    address: server.address,
    port,
    uiPort,
    cli,
    dbFilename,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server?.stop();
      server = undefined;
      if (ownDir) await fs.rm(ownDir, { recursive: true, force: true });
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop(): the test server is gone.');
      await server?.stop();
      server = undefined;
      server = await start();
    },
  };
}
