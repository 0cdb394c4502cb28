import path from 'node:path';
import { z } from 'zod';
import { desiredServersSchema, parseOrRefuse, tcpPort, trafficName, type DesiredServer } from '../schema';

/**
 * The haproxy.cfg of one front door: one frontend on 127.0.0.1:<publicPort>, one backend whose servers are
 * changed at run time through the Runtime API. The ready servers written here are the recorded state at
 * the moment haproxy starts, so a restarted haproxy serves the right releases from its first request;
 * every later change goes through the socket, never through an edit and a reload.
 */

/** The frontend and backend names, fixed: one haproxy process serves exactly one front door. */
export const FRONTEND_NAME = 'public';
export const BACKEND_NAME = 'releases';

/** Everything of one front door lives in its directory; these are the only files it writes. */
export interface FrontDoorFiles {
  directory: string;
  config: string;
  socket: string;
  pidFile: string;
  log: string;
  stateFile: string;
  lockFile: string;
}

export function frontDoorFiles(directory: string): FrontDoorFiles {
  return {
    directory,
    config: path.join(directory, 'haproxy.cfg'),
    socket: path.join(directory, 'haproxy.sock'),
    pidFile: path.join(directory, 'haproxy.pid'),
    log: path.join(directory, 'haproxy.log'),
    stateFile: path.join(directory, 'front-door.json'),
    lockFile: path.join(directory, 'front-door.lock'),
  };
}

/** Linux's sockaddr_un holds 108 bytes including the terminating NUL. */
const MAX_UNIX_SOCKET_PATH_BYTES = 107;

/**
 * An absolute, normalised directory of plain characters: paths are written into the config unquoted, so
 * nothing in them may end a word, start a comment or escape the directory.
 */
export const frontDoorDirectory = z
  .string()
  .refine((d) => path.isAbsolute(d), 'must be an absolute directory path')
  .refine((d) => /^[A-Za-z0-9._/+-]+$/.test(d), 'may contain only letters, digits and . _ / + - (it is written into haproxy.cfg)')
  .refine((d) => path.resolve(d) === d && !d.endsWith('/'), 'must be normalised (no "..", "." or trailing "/"), e.g. /srv/deploy/front-doors/staging')
  .refine(
    (d) => Buffer.byteLength(frontDoorFiles(d).socket) <= MAX_UNIX_SOCKET_PATH_BYTES,
    `is too long: its haproxy.sock path must fit in ${MAX_UNIX_SOCKET_PATH_BYTES} bytes (a unix socket limit); choose a shorter directory`,
  );

/** A readiness path written into haproxy.cfg unquoted: plain URL path characters only. */
export const healthCheckSchema = z.strictObject({
  path: z
    .string()
    .regex(/^\/[A-Za-z0-9._~\/-]{0,200}$/, 'must be a plain URL path starting with "/" (letters, digits and . _ ~ / -), e.g. "/readyz"'),
  intervalMs: z.number().int('must be an integer').min(100, 'must be at least 100').max(60_000, 'must be at most 60000').default(500),
});
export type HealthCheck = z.infer<typeof healthCheckSchema>;

/** The check arguments of a server line and of `add server` (a server fails after 2 checks, recovers after 1). */
export function checkArguments(check: HealthCheck | undefined): string {
  return check ? ` check inter ${check.intervalMs} fall 2 rise 1` : '';
}

export const frontDoorConfigSchema = z.strictObject({
  /** Which front door this is (e.g. "hello-service-staging"); written into the config's header. */
  name: trafficName,
  publicPort: tcpPort,
  directory: frontDoorDirectory,
  servers: desiredServersSchema,
  /**
   * haproxy's own readiness check of every server: a server whose check fails takes no request (it is
   * marked DOWN) until it passes again. Absent: no checks (a server is up while it accepts connections).
   */
  healthCheck: healthCheckSchema.optional(),
  /** How long a release may take to answer a request before haproxy gives up on it (504). */
  serverTimeoutMs: z.number().int('must be an integer').min(1_000, 'must be at least 1000').max(3_600_000, 'must be at most 3600000').default(30_000),
});
export type FrontDoorConfig = z.infer<typeof frontDoorConfigSchema>;
export type FrontDoorConfigInput = z.input<typeof frontDoorConfigSchema>;

/** The `server` line of one recorded server that is ready. */
export function serverLine(server: DesiredServer, check?: HealthCheck): string {
  return `    server ${server.name} 127.0.0.1:${server.port} weight ${server.weight}${checkArguments(check)}`;
}

/** Renders haproxy.cfg; throws InvalidInput naming the field when the input is not valid (nothing is written). */
export function renderHaproxyConfig(input: FrontDoorConfigInput): string {
  const c = parseOrRefuse(frontDoorConfigSchema, input, 'frontDoor');
  const files = frontDoorFiles(c.directory);
  // Servers that drain or are in maintenance are left out and added through the socket right after start,
  // so they take no request meanwhile. (The `disabled` keyword would set a configuration maintenance flag
  // that `set server … state drain` keeps: such a server would never leave maintenance for drain.)
  const servers = c.servers.filter((s) => s.state === 'ready').map((s) => serverLine(s, c.healthCheck));
  return [
    `# Front door "${c.name}": 127.0.0.1:${c.publicPort} -> backend "${BACKEND_NAME}".`,
    '# Rendered by the deploy orchestrator each time it starts this haproxy. The servers below are the ready',
    `# ones recorded in ${path.basename(files.stateFile)} at that moment; every later change goes through the Runtime API`,
    `# (${path.basename(files.socket)}) without a reload. Edits to this file are overwritten.`,
    'global',
    '    # one thread is plenty for one front door on loopback, and several front doors share a small machine',
    '    nbthread 1',
    '    maxconn 4096',
    '    # the orchestrator adds, weights, drains and deletes servers through this socket; only its owner may',
    `    stats socket ${files.socket} mode 600 level admin`,
    '    stats timeout 10s',
    '    # without SO_REUSEPORT a second haproxy cannot bind the public port while this one serves it',
    '    noreuseport',
    '    # a soft stop (SIGUSR1) lets in-flight requests finish, for at most this long',
    '    hard-stop-after 30s',
    '    # haproxy.log receives haproxy\'s own warnings (server state changes, start-up errors) on stderr;',
    '    # of the requests only failed ones are logged, at level err (see log-separate-errors)',
    '    log stderr format raw local0 err',
    '',
    'defaults',
    '    mode http',
    '    log global',
    '    option httplog',
    '    option dontlog-normal',
    '    option log-separate-errors',
    '    timeout connect 2s',
    '    timeout client 30s',
    `    timeout server ${c.serverTimeoutMs}ms`,
    '    timeout http-request 10s',
    '    timeout http-keep-alive 15s',
    '    timeout queue 10s',
    '    # a request a release refused, closed without answer (it was stopping) or never answered is tried',
    '    # again on another server: each retry is redispatched, so a switch or a dying release costs no request',
    '    retries 3',
    '    option redispatch 1',
    ...(c.healthCheck
      ? [
          '    # and so is a GET that a failing release answered with a server error',
          '    retry-on conn-failure empty-response response-timeout 500 502 503 504',
        ]
      : ['    retry-on conn-failure empty-response response-timeout']),
    '    # the first request of a client connection never rides a reused server connection',
    '    http-reuse safe',
    '',
    `frontend ${FRONTEND_NAME}`,
    `    bind 127.0.0.1:${c.publicPort}`,
    `    default_backend ${BACKEND_NAME}`,
    '',
    `backend ${BACKEND_NAME}`,
    '    # a dynamic algorithm: weights change at run time and servers can be added and deleted',
    '    balance roundrobin',
    '    # a request that may have reached a release is replayed only when it has no side effects (GET, HEAD);',
    '    # a connection failure (the request was never sent) is retried for every method',
    '    http-request disable-l7-retry unless METH_GET',
    ...(c.healthCheck
      ? [
          `    # a release whose readiness fails takes no request until it passes again`,
          `    option httpchk GET ${c.healthCheck.path}`,
          '    http-check expect status 200',
        ]
      : []),
    ...servers,
    '',
  ].join('\n');
}
