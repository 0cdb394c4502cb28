/**
 * `npm run cluster`'s settings, from the environment only. The variable names are the ones
 * deploy/temporal/server.yaml reads (so one name means one thing in both lanes), plus TEMPORAL_PORT,
 * TEMPORAL_UI_PORT and WORKER_HEALTH_PORT as `npm run dev` uses them.
 */
import { z } from 'zod';
import { STANDARD_CLUSTER_PORTS, type ClusterPorts } from './cluster';
import { DEFAULT_TEMPORAL_DATABASES, type TemporalDatabaseNames } from './temporal-databases';

const PORT_VARIABLES: Record<keyof ClusterPorts, string> = {
  frontend: 'TEMPORAL_PORT',
  frontendHttp: 'FRONTEND_HTTP_PORT',
  frontendMembership: 'FRONTEND_MEMBERSHIP_PORT',
  history: 'HISTORY_GRPC_PORT',
  historyMembership: 'HISTORY_MEMBERSHIP_PORT',
  matching: 'MATCHING_GRPC_PORT',
  matchingMembership: 'MATCHING_MEMBERSHIP_PORT',
  worker: 'WORKER_GRPC_PORT',
  workerMembership: 'WORKER_MEMBERSHIP_PORT',
  ui: 'TEMPORAL_UI_PORT',
};

const port = (fallback: number, max = 65535, why = '') =>
  z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw === '' ? fallback : Number(raw)))
    .pipe(z.number({ error: 'must be a TCP port number' }).int('must be a whole number').min(1, `must be 1 to ${max}${why}`).max(max, `must be 1 to ${max}${why}`));

/** Membership ports are stored in cluster_membership.rpc_port, a SMALLINT in Temporal's PostgreSQL schema. */
const MEMBERSHIP_PORT_MAX = 32767;

const databaseName = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw === '' ? fallback : raw))
    .pipe(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be lowercase letters, digits and underscores (at most 63), starting with a letter or underscore'));

const clusterEnvSchema = z
  .object({
    ...(Object.fromEntries(
      (Object.keys(PORT_VARIABLES) as Array<keyof ClusterPorts>).map((key) => [
        PORT_VARIABLES[key],
        key.endsWith('Membership')
          ? port(STANDARD_CLUSTER_PORTS[key], MEMBERSHIP_PORT_MAX, " (Temporal's PostgreSQL schema stores membership ports as SMALLINT)")
          : port(STANDARD_CLUSTER_PORTS[key]),
      ]),
    ) as Record<string, ReturnType<typeof port>>),
    WORKER_HEALTH_PORT: port(8091),
    DBNAME: databaseName(DEFAULT_TEMPORAL_DATABASES.temporal),
    VISIBILITY_DBNAME: databaseName(DEFAULT_TEMPORAL_DATABASES.visibility),
  })
  .superRefine((env, ctx) => {
    const byPort = new Map<number, string>();
    for (const name of [...Object.values(PORT_VARIABLES), 'WORKER_HEALTH_PORT']) {
      const value = (env as Record<string, unknown>)[name] as number;
      const other = byPort.get(value);
      if (other) ctx.addIssue({ code: 'custom', path: [name], message: `is ${value}, the same port as ${other}; give each its own` });
      byPort.set(value, name);
    }
    if (env.DBNAME === env.VISIBILITY_DBNAME) {
      ctx.addIssue({ code: 'custom', path: ['VISIBILITY_DBNAME'], message: `must differ from DBNAME (both are "${env.DBNAME}")` });
    }
  });

export interface ClusterSettings {
  ports: ClusterPorts;
  workerHealthPort: number;
  databases: TemporalDatabaseNames;
}

/** The variable that sets each port, for messages ("TEMPORAL_PORT 7233 is in use"). */
export function portVariable(key: keyof ClusterPorts): string {
  return PORT_VARIABLES[key];
}

/** Reads the settings; one error lists every bad variable with what is wrong and what would do. */
export function parseClusterSettings(env: NodeJS.ProcessEnv): ClusterSettings {
  const picked = Object.fromEntries(
    [...Object.values(PORT_VARIABLES), 'WORKER_HEALTH_PORT', 'DBNAME', 'VISIBILITY_DBNAME'].map((name) => [name, env[name]]),
  );
  const parsed = clusterEnvSchema.safeParse(picked);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '(environment)');
      return `  ${name}="${env[name] ?? ''}" ${issue.message}`;
    });
    throw new Error(`Bad settings for npm run cluster (unset a variable to use its default):\n${lines.join('\n')}`);
  }
  const values = parsed.data as Record<string, number | string>;
  const ports = {} as ClusterPorts;
  for (const key of Object.keys(PORT_VARIABLES) as Array<keyof ClusterPorts>) ports[key] = values[PORT_VARIABLES[key]] as number;
  return {
    ports,
    workerHealthPort: values.WORKER_HEALTH_PORT as number,
    databases: { temporal: values.DBNAME as string, visibility: values.VISIBILITY_DBNAME as string },
  };
}
