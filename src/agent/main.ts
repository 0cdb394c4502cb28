import { Command, CommanderError } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError } from '../config';
import { hostNameProblem, loadAgentConfig } from './config';
import { hostTaskQueue } from './contract';
import { HostLockError } from './host-lock';
import { createHostAgent, type HostAgent } from './worker';

/**
 * `npm run agent -- --host <name>`: the host agent. A Temporal worker on task queue `deploys-host-<name>`
 * that runs that host's operations (stage and activate a release, stop it, probe it, report status) for the
 * orchestrator's fleet deploys. Configured from the environment only; SIGINT/SIGTERM stop polling and give
 * in-flight operations WORKER_SHUTDOWN_GRACE_MS to finish.
 */

const ENVIRONMENT_HELP = `
Environment:
  DEPLOY_AGENT_ROOT        where host directories live: <root>/<host> (default .data/agents)
  DEPLOY_ARTIFACT_STORE    postgres (default) or filesystem: where the orchestrator publishes artifacts
  DEPLOY_DATABASE_URL      the orchestrator's database, holding the artifacts (postgres store)
  DEPLOY_ARTIFACT_DIR      the shared artifact directory (filesystem store)
  TEMPORAL_ADDRESS         Temporal frontend, host:port (default 127.0.0.1:7233)
  TEMPORAL_NAMESPACE       (default "default")
  TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_API_KEY
  WORKER_SHUTDOWN_GRACE_MS how long in-flight operations may finish after SIGINT/SIGTERM (default 30000)
  DEPLOY_AGENT_POLLERS_PER_HOST  long polls per host's queue (default 2; each counts against the server's
                           frontend.namespaceCount, 1,200 by default: raise it for fleets beyond ~500 hosts)

Each host keeps its releases under <root>/<host>/<service>/<environment> and its verified copy of the
artifacts under <root>/<host>/artifacts. Several --host options run one worker per host in this process
(for benches simulating a fleet on one machine); each keeps its own task queue, root and port.

Example:
  DEPLOY_DATABASE_URL=postgres://postgres@10.0.0.5:5432/deployer TEMPORAL_ADDRESS=10.0.0.5:7233 \\
    npm run agent -- --host web-1
`;

function parseHosts(argv: string[]): string[] {
  const program = new Command('agent')
    .description('Host agent: runs one host\'s deploy operations for the orchestrator, on task queue deploys-host-<host>.')
    .requiredOption('--host <name>', 'the host this agent serves (repeat for several simulated hosts)', (value: string, previous: string[] = []) => [...previous, value])
    .addHelpText('after', ENVIRONMENT_HELP)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  try {
    program.parse(argv, { from: 'node' });
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    throw err;
  }
  const hosts = program.opts<{ host: string[] }>().host;
  const problems = hosts.map(hostNameProblem).filter((p): p is string => p !== null);
  const repeated = hosts.filter((h, i) => hosts.indexOf(h) !== i);
  if (repeated.length > 0) problems.push(`--host ${repeated[0]}: given twice; each host is served once`);
  if (problems.length > 0) {
    console.error(`agent: ${problems.join('\n       ')}`);
    process.exit(2);
  }
  return hosts;
}

async function main(): Promise<void> {
  const hosts = parseHosts(process.argv);
  let config;
  try {
    config = loadAgentConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message.replace('worker configuration', 'agent configuration'));
      process.exit(2);
    }
    throw err;
  }
  // An agent registers activities only: the SDK's warning that it polls no workflow tasks is expected, not news.
  Runtime.install({
    logger: new DefaultLogger((process.env.LOG_LEVEL as 'INFO' | undefined) ?? 'WARN', (entry) => {
      if (entry.message.startsWith('No workflows registered')) return;
      const meta = entry.meta && Object.keys(entry.meta).length > 0 ? ` ${JSON.stringify(entry.meta)}` : '';
      process.stderr.write(`${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} [${entry.level}] ${entry.message}${meta}\n`);
    }),
  });
  const log = (host: string, line: string) => console.log(`[agent ${host}] ${line}`);
  let agent: HostAgent;
  try {
    agent = await createHostAgent({ config, hosts, log });
  } catch (err) {
    if (err instanceof HostLockError) {
      console.error(`agent: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`agent: ${signal}: stopping (in-flight operations get ${config.WORKER_SHUTDOWN_GRACE_MS} ms)`);
    agent.shutdown();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  for (const h of agent.hosts) log(h.host, `polling task queue ${h.taskQueue}; root ${h.root}`);
  console.log(
    `agent ready: ${hosts.map(hostTaskQueue).join(', ')} on ${config.TEMPORAL_ADDRESS} (namespace ${config.TEMPORAL_NAMESPACE}); artifacts from ${agent.artifactsFrom}`,
  );
  await agent.run();
  console.log('agent stopped');
}

main().catch((err) => {
  const message = err instanceof Error ? err.message : String(err);
  if (/tcp connect error|Connection refused|transport error/i.test(message)) {
    console.error(`agent failed: cannot reach Temporal at ${process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233'} (${message.split('\n')[0]}); start it (npm run dev) or set TEMPORAL_ADDRESS`);
    process.exit(1);
  }
  console.error(`agent failed: ${message}`);
  process.exit(1);
});
