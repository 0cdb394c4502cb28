import net from 'node:net';
import type { ServerState } from '../schema';

/**
 * A client of HAProxy's Runtime API (the `stats socket`). Each command opens its own connection: in
 * non-interactive mode haproxy answers one command line and closes, so the answer is everything read
 * until the end of the stream. Commands that change something answer an empty line on success and a
 * sentence on failure, which this client turns into an error naming the command.
 */

export class RuntimeApiError extends Error {
  constructor(
    message: string,
    readonly command: string,
    /** haproxy's own answer, when it gave one. */
    readonly answer?: string,
  ) {
    super(message);
    this.name = 'RuntimeApiError';
  }
}

/** The operational state haproxy reports (srv_op_state): whether the server is up as far as checks know. */
export type ServerOperationalState = 'stopped' | 'starting' | 'running' | 'stopping';

/** One line of `show servers state <backend>`, typed. */
export interface ServerStateRow {
  backendId: number;
  backend: string;
  id: number;
  name: string;
  address: string;
  port: number;
  /** The administrative state derived from the srv_admin_state bits (maintenance wins over drain). */
  state: ServerState;
  adminFlags: number;
  operational: ServerOperationalState;
  /** The weight set by configuration or `set server … weight` (kept while the server drains or is in maintenance). */
  weight: number;
  initialWeight: number;
  secondsSinceLastChange: number;
}

/** One server's line of `show stat`: what it is doing now. */
export interface ServerStatRow {
  name: string;
  /** Requests (streams) being served by this server right now (scur). */
  currentSessions: number;
  /** Requests waiting in this server's queue (qcur). */
  queued: number;
  totalSessions: number;
  /** "UP", "DRAIN", "MAINT", "no check", … */
  status: string;
}

export interface RuntimeApiOptions {
  /** Per command: connect, send and read the whole answer (default 5000 ms). */
  timeoutMs?: number;
}

// srv_admin_state bits (management.txt, "show servers state"): any maintenance bit means maint.
const ADMIN_MAINT_BITS = 0x01 | 0x02 | 0x04 | 0x20 | 0x40;
const ADMIN_DRAIN_BITS = 0x08 | 0x10;
const OPERATIONAL: ServerOperationalState[] = ['stopped', 'starting', 'running', 'stopping'];

export function adminStateFromFlags(flags: number): ServerState {
  if (flags & ADMIN_MAINT_BITS) return 'maint';
  if (flags & ADMIN_DRAIN_BITS) return 'drain';
  return 'ready';
}

/** Parses `show servers state` (format version 1); other backends' lines are kept, the caller filters. */
export function parseServersState(answer: string): ServerStateRow[] {
  const lines = answer.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines[0] !== '1') throw new Error(`unexpected "show servers state" format: first line is "${lines[0] ?? ''}", expected version 1`);
  const header = lines.find((l) => l.startsWith('#'));
  if (!header) throw new Error('unexpected "show servers state" format: no header line');
  const columns = header.slice(1).trim().split(/\s+/);
  const at = (name: string): number => {
    const i = columns.indexOf(name);
    if (i < 0) throw new Error(`unexpected "show servers state" format: no column ${name}`);
    return i;
  };
  const col = {
    beId: at('be_id'),
    beName: at('be_name'),
    id: at('srv_id'),
    name: at('srv_name'),
    addr: at('srv_addr'),
    op: at('srv_op_state'),
    admin: at('srv_admin_state'),
    uweight: at('srv_uweight'),
    iweight: at('srv_iweight'),
    since: at('srv_time_since_last_change'),
    port: at('srv_port'),
  };
  return lines
    .filter((l) => !l.startsWith('#') && l !== '1')
    .map((line) => {
      const f = line.split(/\s+/);
      const adminFlags = Number(f[col.admin]);
      return {
        backendId: Number(f[col.beId]),
        backend: f[col.beName]!,
        id: Number(f[col.id]),
        name: f[col.name]!,
        address: f[col.addr]!,
        port: Number(f[col.port]),
        state: adminStateFromFlags(adminFlags),
        adminFlags,
        operational: OPERATIONAL[Number(f[col.op])] ?? 'stopped',
        weight: Number(f[col.uweight]),
        initialWeight: Number(f[col.iweight]),
        secondsSinceLastChange: Number(f[col.since]),
      };
    });
}

/** Parses the CSV of `show stat <backend> 4 -1` (servers only) into one row per server. */
export function parseServerStats(answer: string, backend: string): ServerStatRow[] {
  const lines = answer.split('\n').filter((l) => l.trim().length > 0);
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) throw new Error('unexpected "show stat" format: no "# pxname,…" header');
  const columns = header.slice(2).split(',');
  const at = (name: string): number => {
    const i = columns.indexOf(name);
    if (i < 0) throw new Error(`unexpected "show stat" format: no column ${name}`);
    return i;
  };
  const col = { px: at('pxname'), sv: at('svname'), scur: at('scur'), qcur: at('qcur'), stot: at('stot'), status: at('status') };
  return lines
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.split(','))
    .filter((f) => f[col.px] === backend && f[col.sv] !== 'BACKEND' && f[col.sv] !== 'FRONTEND')
    .map((f) => ({
      name: f[col.sv]!,
      currentSessions: Number(f[col.scur] || 0),
      queued: Number(f[col.qcur] || 0),
      totalSessions: Number(f[col.stot] || 0),
      status: f[col.status] ?? '',
    }));
}

/** `show info` as key → value ("Pid" → "1234", "Version" → "2.6.12-1+deb12u4", …). */
export function parseInfo(answer: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of answer.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) info[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return info;
}

// The Runtime API treats ';' and newlines as command separators and '/' as the backend/server separator:
// an argument containing them would become a different command.
const SAFE_ARGUMENT = /^[A-Za-z0-9._:-]+$/;

function word(value: string | number, what: string): string {
  const text = String(value);
  if (!SAFE_ARGUMENT.test(text)) throw new RuntimeApiError(`${what} "${text}" is not a plain word (letters, digits, . _ : -); refusing to send it`, '(not sent)');
  return text;
}

export class HaproxyRuntimeApi {
  readonly timeoutMs: number;

  constructor(
    readonly socketPath: string,
    options: RuntimeApiOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  /** Sends one command line and returns haproxy's whole answer. Rejects with a RuntimeApiError naming the command. */
  send(command: string): Promise<string> {
    if (/[\n\r;]/.test(command)) {
      return Promise.reject(new RuntimeApiError(`refusing to send "${command}": one command per call, without ";" or newlines`, command));
    }
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.socketPath);
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = (err: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(Buffer.concat(chunks).toString('utf8'));
      };
      const timer = setTimeout(
        () => finish(new RuntimeApiError(`haproxy did not answer "${command}" on ${this.socketPath} within ${this.timeoutMs} ms`, command)),
        this.timeoutMs,
      );
      socket.once('connect', () => socket.end(`${command}\n`));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.once('end', () => finish(null));
      socket.once('error', (err: NodeJS.ErrnoException) =>
        finish(new RuntimeApiError(`"${command}" could not be sent to ${this.socketPath}: ${err.code ?? err.message}`, command)),
      );
    });
  }

  /** Sends a command that answers nothing on success (an empty line); any text is haproxy's refusal. */
  private async change(command: string, accepted: RegExp = /^$/): Promise<void> {
    const answer = (await this.send(command)).trim();
    if (!accepted.test(answer)) throw new RuntimeApiError(`haproxy refused "${command}": ${answer}`, command, answer);
  }

  async showInfo(): Promise<Record<string, string>> {
    return parseInfo(await this.send('show info'));
  }

  async showServersState(backend: string): Promise<ServerStateRow[]> {
    const command = `show servers state ${word(backend, 'backend')}`;
    const answer = await this.send(command);
    // An unknown backend answers a sentence instead of the versioned dump.
    if (!answer.startsWith('1\n')) throw new RuntimeApiError(`haproxy refused "${command}": ${answer.trim()}`, command, answer.trim());
    return parseServersState(answer).filter((row) => row.backend === backend);
  }

  async showServerStats(backend: string): Promise<ServerStatRow[]> {
    const command = `show stat ${word(backend, 'backend')} 4 -1`;
    const answer = await this.send(command);
    if (!answer.startsWith('# ')) throw new RuntimeApiError(`haproxy refused "${command}": ${answer.trim()}`, command, answer.trim());
    return parseServerStats(answer, backend);
  }

  /** Requests each server of `backend` is serving right now (scur): what a drain waits to reach 0. */
  async currentSessions(backend: string): Promise<Map<string, number>> {
    return new Map((await this.showServerStats(backend)).map((row) => [row.name, row.currentSessions + row.queued]));
  }

  setWeight(backend: string, server: string, weight: number): Promise<void> {
    if (!Number.isInteger(weight) || weight < 0 || weight > 256) {
      return Promise.reject(new RuntimeApiError(`weight ${weight} for ${backend}/${server} is not an integer 0-256`, '(not sent)'));
    }
    return this.change(`set server ${word(backend, 'backend')}/${word(server, 'server')} weight ${weight}`);
  }

  setState(backend: string, server: string, state: ServerState): Promise<void> {
    return this.change(`set server ${word(backend, 'backend')}/${word(server, 'server')} state ${word(state, 'state')}`);
  }

  enableServer(backend: string, server: string): Promise<void> {
    return this.change(`enable server ${word(backend, 'backend')}/${word(server, 'server')}`);
  }

  /** Adds a server; haproxy creates it in maintenance, so it takes no traffic until enabled. */
  addServer(backend: string, server: string, target: { address: string; port: number; weight: number; check?: { intervalMs: number } }): Promise<void> {
    const check = target.check ? ` check inter ${word(target.check.intervalMs, 'interval')} fall 2 rise 1` : '';
    const command = `add server ${word(backend, 'backend')}/${word(server, 'server')} ${word(target.address, 'address')}:${word(target.port, 'port')} weight ${word(target.weight, 'weight')}${check}`;
    return this.change(command, /^New server registered\.$/);
  }

  /** Starts the health checks of a server added with `check` (dynamic servers start with them disabled). */
  enableHealth(backend: string, server: string): Promise<void> {
    return this.change(`enable health ${word(backend, 'backend')}/${word(server, 'server')}`);
  }

  /** Deletes a server in maintenance; haproxy refuses while requests or idle connections still use it. */
  delServer(backend: string, server: string): Promise<void> {
    return this.change(`del server ${word(backend, 'backend')}/${word(server, 'server')}`, /^Server deleted\.$/);
  }

  /** Cuts every request a server is still serving (after a drain that timed out, before deleting it). */
  shutdownSessions(backend: string, server: string): Promise<void> {
    return this.change(`shutdown sessions server ${word(backend, 'backend')}/${word(server, 'server')}`);
  }
}

/** haproxy's answer when `del server` finds requests or idle connections still using the server. */
export function isStillInUse(err: unknown): boolean {
  return err instanceof RuntimeApiError && /still has connections|queue is not empty|has queued/i.test(err.answer ?? '');
}
