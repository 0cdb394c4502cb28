import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { FailureType, refuse } from '../../errors';
import { describeIssues } from '../../zod-issues';
import { readTextFile, writeFileAtomic } from '../files';
import { withFileLock } from '../lock';
import {
  desiredServersSchema,
  desiredTrafficSchema,
  parseOrRefuse,
  tcpPort,
  trafficName,
  type DesiredServer,
  type DesiredTraffic,
  type DesiredTrafficInput,
  type ServerState,
} from '../schema';
import { findHaproxy } from './binary';
import { BACKEND_NAME, frontDoorDirectory, healthCheckSchema, frontDoorFiles, renderHaproxyConfig, type FrontDoorFiles } from './config';
import { describeStep, planTrafficSteps, type ActualServer, type TrafficStep } from './plan';
import { findRunningHaproxy, isFrontDoorHaproxy, readPidFile, startHaproxy, stopHaproxy } from './process';
import { HaproxyRuntimeApi, isStillInUse, type ServerOperationalState } from './runtime-api';

/**
 * One environment's front door: a haproxy process serving `127.0.0.1:<publicPort>` from the servers
 * recorded in its directory. Every change is recorded first (front-door.json, atomically) and then carried
 * out through the Runtime API, so a crash at any point, of the worker or of haproxy, is repaired by the
 * next `apply` or `ensureRunning`: both read what haproxy really has and finish the recorded change.
 */

export const frontDoorOptionsSchema = z.strictObject({
  /** Which front door this is, e.g. "hello-service-staging" (its config header and messages name it). */
  name: trafficName,
  publicPort: tcpPort,
  /** Its own directory (created if missing): config, socket, pidfile, log, recorded state, lock. */
  directory: frontDoorDirectory,
  /** The haproxy executable; default: HAPROXY_PATH, /usr/sbin/haproxy or PATH (>= 2.6). */
  haproxyPath: z.string().refine((p) => p.startsWith('/'), 'must be an absolute path').optional(),
  serverTimeoutMs: z.number().int().min(1_000).max(3_600_000).optional(),
  /** haproxy checks each server's readiness and sends nothing to one that fails (see renderHaproxyConfig). */
  healthCheck: healthCheckSchema.optional(),
  /** How long haproxy may take to answer on its socket after a start. */
  startTimeoutMs: z.number().int('must be an integer').min(500, 'must be at least 500').default(15_000),
  /** How long a removed server's in-flight requests may take to finish before they are cut. */
  removeDrainTimeoutMs: z.number().int('must be an integer').min(0, 'must not be negative').default(30_000),
  /** Per Runtime API command. */
  commandTimeoutMs: z.number().int('must be an integer').min(100, 'must be at least 100').default(5_000),
  /** How long to wait for another process that is changing this front door. */
  lockTimeoutMs: z.number().int('must be an integer').min(0, 'must not be negative').default(120_000),
});
export type FrontDoorOptions = z.input<typeof frontDoorOptionsSchema> & { onProgress?: (message: string) => void };

/** front-door.json: what this front door must serve. */
const recordedStateSchema = z.strictObject({
  version: z.literal(1),
  name: trafficName,
  publicPort: tcpPort,
  servers: desiredServersSchema,
  recordedAt: z.string(),
});
type RecordedState = z.infer<typeof recordedStateSchema>;

export interface ServerStatus {
  name: string;
  port: number;
  weight: number;
  state: ServerState;
  operational: ServerOperationalState;
  /** Requests it is serving (or that wait in its queue) right now. */
  currentSessions: number;
}

export interface FrontDoorStatus {
  name: string;
  publicPort: number;
  running: boolean;
  pid: number | null;
  /** Read back from haproxy (empty when it is not running). */
  servers: ServerStatus[];
  /** What front-door.json says it must serve. */
  recorded: DesiredServer[];
  /** haproxy serves exactly the recorded servers, ports, weights and states. */
  matchesRecorded: boolean;
}

export interface DrainResult {
  server: string;
  /** Its in-flight requests reached 0 within the timeout. */
  drained: boolean;
  currentSessions: number;
  waitedMs: number;
}

export class FrontDoor {
  readonly name: string;
  readonly publicPort: number;
  readonly files: FrontDoorFiles;
  private readonly options: z.infer<typeof frontDoorOptionsSchema>;
  private readonly api: HaproxyRuntimeApi;
  private readonly report: (message: string) => void;

  /** Validates the options (InvalidInput naming the field); touches nothing until a method is called. */
  constructor(options: FrontDoorOptions) {
    const { onProgress, ...settings } = options;
    this.options = parseOrRefuse(frontDoorOptionsSchema, settings, 'frontDoor');
    this.name = this.options.name;
    this.publicPort = this.options.publicPort;
    this.files = frontDoorFiles(this.options.directory);
    this.api = new HaproxyRuntimeApi(this.files.socket, { timeoutMs: this.options.commandTimeoutMs });
    this.report = onProgress ?? (() => {});
  }

  /**
   * Makes sure haproxy runs and serves the recorded servers. Idempotent: a running front door is only
   * reconciled (nothing changes when it already matches); a dead one (killed, crashed, machine restarted:
   * a pidfile naming a gone process, a socket file nobody answers) is started from the recorded state.
   */
  ensureRunning(): Promise<FrontDoorStatus> {
    return this.locked(async () => {
      const recorded = await this.readOrCreateRecord();
      await this.startIfDown(recorded);
      await this.reconcile(recorded.servers, this.options.removeDrainTimeoutMs);
      return this.status();
    });
  }

  /**
   * Makes haproxy serve exactly `desired` (servers not listed are drained and removed). The desired state
   * is validated (nothing changes when it is refused), recorded, and then applied through the Runtime API;
   * repeating it is a no-op, and repeating it after a crash finishes it.
   */
  async apply(desired: DesiredTrafficInput, options: { removeDrainTimeoutMs?: number } = {}): Promise<FrontDoorStatus> {
    const traffic: DesiredTraffic = parseOrRefuse(desiredTrafficSchema, desired, 'desired');
    return this.locked(async () => {
      const record = await this.recordServers(await this.readOrCreateRecord(), traffic.servers);
      await this.startIfDown(record);
      await this.reconcile(record.servers, options.removeDrainTimeoutMs ?? this.options.removeDrainTimeoutMs);
      return this.status();
    });
  }

  /**
   * Takes a server out of rotation (recorded, so a restarted haproxy keeps it out) and waits until the
   * requests it is serving have finished, or `timeoutMs` passed. Requests in flight are never cut here.
   */
  async drain(server: string, timeoutMs: number): Promise<DrainResult> {
    const name = parseOrRefuse(trafficName, server, 'server');
    const timeout = parseOrRefuse(z.number().int().min(0), timeoutMs, 'timeoutMs');
    await this.locked(async () => {
      const recorded = await this.readOrCreateRecord();
      const entry = recorded.servers.find((s) => s.name === name);
      if (!entry) {
        throw refuse(
          FailureType.InvalidInput,
          `server: "${name}" is not a server of front door ${this.name} (it has ${recorded.servers.map((s) => s.name).join(', ') || 'none'}); nothing was drained`,
        );
      }
      // A server in maintenance already takes no new requests; only a ready one changes.
      const servers = recorded.servers.map((s) => (s.name === name && s.state === 'ready' ? { ...s, state: 'drain' as const } : s));
      const record = await this.recordServers(recorded, servers);
      await this.startIfDown(record);
      await this.reconcile(record.servers, this.options.removeDrainTimeoutMs);
    });
    const started = Date.now();
    const sessions = await this.waitForNoSessions(name, started + timeout);
    const result = { server: name, drained: sessions === 0, currentSessions: sessions, waitedMs: Date.now() - started };
    this.report(
      result.drained
        ? `server ${name} drained in ${result.waitedMs} ms`
        : `server ${name} still serves ${sessions} request(s) after ${timeout} ms of draining`,
    );
    return result;
  }

  /**
   * Puts one recorded server in `state` (ready, drain or maint), leaving every other server as it is: a
   * read-modify-write under the front door's lock, so hosts changed at once never undo each other.
   */
  async setServerState(server: string, state: ServerState): Promise<FrontDoorStatus> {
    const name = parseOrRefuse(trafficName, server, 'server');
    return this.locked(async () => {
      const recorded = await this.readOrCreateRecord();
      if (!recorded.servers.some((s) => s.name === name)) {
        throw refuse(FailureType.InvalidInput, `server: "${name}" is not a server of front door ${this.name}; nothing was changed`);
      }
      const record = await this.recordServers(recorded, recorded.servers.map((s) => (s.name === name ? { ...s, state } : s)));
      await this.startIfDown(record);
      await this.reconcile(record.servers, this.options.removeDrainTimeoutMs);
      return this.status();
    });
  }

  /**
   * Makes the recorded servers exactly `servers` (name and port), keeping the state and weight a server
   * already has; a new server enters in `newState`. Under the lock, so concurrent host changes are kept.
   */
  async ensureServers(servers: Array<{ name: string; port: number }>, newState: ServerState): Promise<FrontDoorStatus> {
    return this.locked(async () => {
      const recorded = await this.readOrCreateRecord();
      const known = new Map(recorded.servers.map((s) => [s.name, s]));
      const desired = parseOrRefuse(
        desiredServersSchema,
        servers.map((s) => {
          const had = known.get(s.name);
          return had && had.port === s.port ? had : { name: s.name, port: s.port, weight: 1, state: newState };
        }),
        'servers',
      );
      const record = await this.recordServers(recorded, desired);
      await this.startIfDown(record);
      await this.reconcile(record.servers, this.options.removeDrainTimeoutMs);
      return this.status();
    });
  }

  /** What haproxy serves now, read back from it, next to what is recorded. Changes nothing. */
  async status(): Promise<FrontDoorStatus> {
    const record = await this.readRecord();
    const recorded = record?.servers ?? [];
    const running = await findRunningHaproxy(this.files, this.api);
    let servers: ServerStatus[] = [];
    if (running) {
      const [states, sessions] = await Promise.all([this.api.showServersState(BACKEND_NAME), this.api.currentSessions(BACKEND_NAME)]);
      servers = states.map((s) => ({
        name: s.name,
        port: s.port,
        weight: s.weight,
        state: s.state,
        operational: s.operational,
        currentSessions: sessions.get(s.name) ?? 0,
      }));
    }
    return {
      name: this.name,
      publicPort: this.publicPort,
      running: running !== null,
      pid: running?.pid ?? null,
      servers,
      recorded,
      matchesRecorded: running !== null && planTrafficSteps(servers, recorded).length === 0,
    };
  }

  /** What front-door.json records, or null before the first ensureRunning/apply. */
  async recorded(): Promise<DesiredServer[] | null> {
    return (await this.readRecord())?.servers ?? null;
  }

  /**
   * Stops haproxy (in-flight requests get `graceMs` to finish) and removes its pidfile and socket. The
   * recorded state stays: the next ensureRunning serves it again.
   */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    return this.locked(async () => {
      const running = await findRunningHaproxy(this.files, this.api);
      const recordedPid = await readPidFile(this.files);
      for (const pid of new Set([running?.pid, recordedPid])) {
        if (pid && (await isFrontDoorHaproxy(pid, this.files))) await stopHaproxy(pid, options.graceMs ?? 10_000, this.report);
      }
      await fs.rm(this.files.pidFile, { force: true });
      await fs.rm(this.files.socket, { force: true });
      this.report(`front door ${this.name} stopped (recorded state kept in ${this.files.stateFile})`);
    });
  }

  // --- internals (called with the lock held) ---

  private async locked<T>(run: () => Promise<T>): Promise<T> {
    await fs.mkdir(this.files.directory, { recursive: true, mode: 0o700 });
    return withFileLock(this.files.lockFile, { timeoutMs: this.options.lockTimeoutMs, what: `front door ${this.name}` }, run);
  }

  private async readRecord(): Promise<RecordedState | null> {
    const text = await readTextFile(this.files.stateFile);
    if (text === null) return null;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${this.files.stateFile} is not valid JSON; restore it, or delete it and apply the desired servers again`);
    }
    const parsed = recordedStateSchema.safeParse(json);
    if (!parsed.success) {
      throw new Error(`${this.files.stateFile} is not a front door record: ${describeIssues(parsed.error).join('; ')}; restore it, or delete it and apply again`);
    }
    return parsed.data;
  }

  private async readOrCreateRecord(): Promise<RecordedState> {
    const record = await this.readRecord();
    if (record) {
      if (record.publicPort !== this.publicPort || record.name !== this.name) {
        throw refuse(
          FailureType.InvalidInput,
          `publicPort: front door directory ${this.files.directory} belongs to "${record.name}" on port ${record.publicPort}, not "${this.name}" on port ${this.publicPort}; ` +
            'stop it and use a new directory to move a front door to another port',
        );
      }
      return record;
    }
    const fresh: RecordedState = { version: 1, name: this.name, publicPort: this.publicPort, servers: [], recordedAt: new Date().toISOString() };
    await this.writeRecord(fresh);
    return fresh;
  }

  /** Records `servers` (atomically, before anything is applied); a record that already says so is left alone. */
  private async recordServers(record: RecordedState, servers: DesiredServer[]): Promise<RecordedState> {
    const next = { ...record, servers };
    if (JSON.stringify(record.servers) !== JSON.stringify(servers)) await this.writeRecord(next);
    return next;
  }

  private writeRecord(record: RecordedState): Promise<void> {
    return writeFileAtomic(this.files.stateFile, `${JSON.stringify({ ...record, recordedAt: new Date().toISOString() }, null, 2)}\n`);
  }

  /** Starts haproxy from the recorded servers unless it already answers; a hung or orphaned one is replaced. */
  private async startIfDown(record: RecordedState): Promise<void> {
    if (await findRunningHaproxy(this.files, this.api)) return;
    const recordedPid = await readPidFile(this.files);
    if (recordedPid && (await isFrontDoorHaproxy(recordedPid, this.files))) {
      // Alive but not answering on its socket (hung, or its socket file was removed): a front door whose
      // traffic cannot be switched is replaced.
      this.report(`haproxy pid ${recordedPid} does not answer on ${this.files.socket}; replacing it`);
      await stopHaproxy(recordedPid, 2_000, this.report);
    } else if (recordedPid) {
      this.report(`haproxy pid ${recordedPid} recorded in ${this.files.pidFile} is gone; starting haproxy from the recorded state`);
    }
    const executable = await this.executable();
    await writeFileAtomic(
      this.files.config,
      renderHaproxyConfig({
        name: this.name,
        publicPort: this.publicPort,
        directory: this.files.directory,
        servers: record.servers,
        serverTimeoutMs: this.options.serverTimeoutMs,
        healthCheck: this.options.healthCheck,
      }),
    );
    try {
      await startHaproxy({ executable, files: this.files, api: this.api, timeoutMs: this.options.startTimeoutMs, report: this.report });
    } catch (err) {
      const message = (err as Error).message;
      const portTaken = /Address already in use/.test(message)
        ? ` Port ${this.publicPort} is held by another process; find it with \`ss -ltnp | grep :${this.publicPort}\` and stop it, or give this environment another port.`
        : '';
      throw new Error(`front door ${this.name} could not start on 127.0.0.1:${this.publicPort}.${portTaken}\n${message}`);
    }
  }

  private async executable(): Promise<string> {
    if (this.options.haproxyPath) return this.options.haproxyPath;
    const found = await findHaproxy();
    if (!found.found) throw new Error(`front door ${this.name} cannot start: ${found.reason}`);
    return found.path;
  }

  private async actualServers(): Promise<ActualServer[]> {
    return (await this.api.showServersState(BACKEND_NAME)).map((s) => ({ name: s.name, port: s.port, weight: s.weight, state: s.state }));
  }

  /** Plans from what haproxy reports, carries the steps out, and checks that haproxy now matches. */
  private async reconcile(desired: DesiredServer[], removeDrainTimeoutMs: number): Promise<void> {
    const steps = planTrafficSteps(await this.actualServers(), desired);
    for (const step of steps) {
      this.report(`front door ${this.name}: ${describeStep(step)}`);
      await this.carryOut(step, removeDrainTimeoutMs);
    }
    const left = planTrafficSteps(await this.actualServers(), desired);
    if (left.length > 0) {
      throw new Error(`front door ${this.name} does not match its recorded state after applying it; still to do: ${left.map(describeStep).join('; ')}`);
    }
  }

  private async carryOut(step: TrafficStep, removeDrainTimeoutMs: number): Promise<void> {
    switch (step.kind) {
      case 'add': {
        const check = this.options.healthCheck;
        await this.api.addServer(BACKEND_NAME, step.server, { address: '127.0.0.1', port: step.port, weight: step.weight, ...(check ? { check } : {}) });
        if (check) await this.api.enableHealth(BACKEND_NAME, step.server);
        return;
      }
      case 'setWeight':
        return this.api.setWeight(BACKEND_NAME, step.server, step.weight);
      case 'setState':
        return this.api.setState(BACKEND_NAME, step.server, step.state);
      case 'remove':
        return this.remove(step.server, step.from, removeDrainTimeoutMs);
    }
  }

  /** drain → wait (bounded) → maint → del, cutting what is left only once the drain timed out. */
  private async remove(server: string, from: ServerState, drainTimeoutMs: number): Promise<void> {
    const deadline = Date.now() + drainTimeoutMs;
    if (from === 'ready') await this.api.setState(BACKEND_NAME, server, 'drain');
    const left = await this.waitForNoSessions(server, deadline);
    await this.api.setState(BACKEND_NAME, server, 'maint');
    if (left > 0) {
      this.report(`server ${server} still serves ${left} request(s) after ${drainTimeoutMs} ms of draining; cutting them to remove it`);
      await this.api.shutdownSessions(BACKEND_NAME, server);
    }
    // Closing connections takes haproxy a moment after the last request ends.
    const deleteBy = Math.max(deadline, Date.now()) + 5_000;
    for (;;) {
      try {
        await this.api.delServer(BACKEND_NAME, server);
        return;
      } catch (err) {
        if (!isStillInUse(err) || Date.now() > deleteBy) throw err;
        if (Date.now() > deadline) await this.api.shutdownSessions(BACKEND_NAME, server);
      }
      await sleep(50);
    }
  }

  /** Polls the server's current requests until 0 or the deadline; returns what is left (0: drained). */
  private async waitForNoSessions(server: string, deadline: number): Promise<number> {
    for (;;) {
      const sessions = (await this.api.currentSessions(BACKEND_NAME)).get(server) ?? 0;
      if (sessions === 0 || Date.now() >= deadline) return sessions;
      await sleep(50);
    }
  }
}
