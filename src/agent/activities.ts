import { probeProgress } from '../health/wording';
import { withHeartbeat } from '../activities/context';
import { requireCachedBlob, type ArtifactStore } from '../artifacts';
import { FailureType, refuse } from '../errors';
import { analyzeHealth } from '../health/analyze';
import { missingConfig, readConfigSource } from '../runtime-config';
import { createLocalTarget, type Target } from '../targets';
import { hostArtifactCache, hostTargetRoot } from './config';
import { hostTaskQueue, type HostActivities, type HostRuntime } from './contract';
import { hostDeployInputSchema, hostProbeInputSchema, hostRollbackInputSchema, hostStatusInputSchema, parseHostInput } from './inputs';

/** What one host's activities work with: the host they serve, its directory and the artifact store. */
export interface HostAgentDeps {
  host: string;
  /** `<DEPLOY_AGENT_ROOT>/<host>`, absolute. */
  agentRoot: string;
  /** The store the orchestrator's workers publish artifacts to; read by sha256, every byte verified. */
  artifacts: ArtifactStore;
  /** One line per step, for the agent's own log (never runtime configuration values). */
  log: (line: string) => void;
}

/**
 * The activities of one host's agent (see contract.ts): the local target under
 * `<agent root>/<service>/<environment>`, artifacts from the shared store into `<agent root>/artifacts`.
 * Every activity validates its input first, refuses work for another host, and heartbeats throughout, so
 * the orchestrator's heartbeat timeout notices a dead agent. The local target makes deploy and rollback
 * safe to repeat after a crash at any point: a retry on a restarted agent finishes what was started.
 */
export function createHostActivities(deps: HostAgentDeps): HostActivities {
  const { host, agentRoot } = deps;
  // Within this process, one operation at a time per service environment: a deploy and a rollback of the
  // same target must not interleave their process stops and starts.
  const queues = new Map<string, Promise<unknown>>();
  const oneAtATime = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const run = (queues.get(key) ?? Promise.resolve()).then(work, work);
    const settled = run.then(() => undefined, () => undefined);
    queues.set(key, settled);
    void settled.then(() => {
      if (queues.get(key) === settled) queues.delete(key);
    });
    return run;
  };

  const requireOwnHost = (activity: string, runtime: HostRuntime) => {
    if (runtime.host !== host) {
      throw refuse(
        FailureType.InvalidInput,
        `${activity}: runtime.host is ${JSON.stringify(runtime.host)}, but this agent polls ${hostTaskQueue(host)} for host ${host}; schedule it on ${hostTaskQueue(runtime.host)}`,
      );
    }
  };

  /** Progress on the heartbeat and a line in the agent's log, both naming the operation. */
  const reporter = (activity: string, runtime: HostRuntime, progress: (message: string) => void, version?: string) => {
    const what = `${activity} ${runtime.service}/${runtime.environment}${version ? ` ${version}` : ''}`;
    return (message: string) => {
      progress(message);
      deps.log(`${what}: ${message}`);
    };
  };

  const targetFor = (runtime: HostRuntime, report: (message: string) => void): Target =>
    createLocalTarget({
      root: hostTargetRoot(agentRoot, runtime.service, runtime.environment),
      command: runtime.command,
      port: runtime.port,
      keepReleases: runtime.keepReleases,
      stopTimeoutMs: runtime.stopTimeoutMs,
      startTimeoutMs: runtime.startTimeoutMs,
      onProgress: report,
    });

  /** The service's runtime configuration, read on this host; only names ever leave this function's caller's process. */
  const runtimeConfig = async (activity: string, runtime: HostRuntime): Promise<Record<string, string>> => {
    const values = await readConfigSource(runtime.envFile);
    const missing = missingConfig(runtime.requiredConfig, values);
    if (missing.length > 0) {
      throw refuse(
        FailureType.InvalidInput,
        `${activity}: runtime.requiredConfig needs ${missing.join(', ')}, missing or empty in ${runtime.envFile ? `runtime.envFile ${runtime.envFile}` : 'the runtime configuration (no runtime.envFile given)'} on host ${host}; add ${missing.length === 1 ? 'it' : 'them'} as KEY=VALUE lines there, then deploy again`,
      );
    }
    return values;
  };

  return {
    async hostDeploy(input) {
      const a = parseHostInput('hostDeploy', hostDeployInputSchema, input);
      requireOwnHost('hostDeploy', a.runtime);
      const { release, runtime } = a;
      return withHeartbeat((progress) =>
        oneAtATime(`${runtime.service}/${runtime.environment}`, async () => {
          const say = reporter('deploy', runtime, progress, release.version);
          const artifactPath = await requireCachedBlob({
            store: deps.artifacts,
            cacheDir: hostArtifactCache(agentRoot),
            sha256: release.sha256,
            what: `hostDeploy of ${release.service} ${release.version} on host ${host}`,
            onProgress: say,
          });
          const runtimeEnv = await runtimeConfig('hostDeploy', runtime);
          const outcome = await targetFor(runtime, say).deploy({ ...release, artifactPath }, runtimeEnv);
          say(
            outcome.noop
              ? `release ${outcome.releaseId} already runs on port ${runtime.port}; nothing changed`
              : `release ${outcome.releaseId} runs on port ${runtime.port} (replaced ${outcome.previous?.releaseId ?? 'nothing'})`,
          );
          return { host, releaseId: outcome.releaseId, noop: outcome.noop, previous: outcome.previous };
        }),
      );
    },

    async hostProbe(input) {
      const a = parseHostInput('hostProbe', hostProbeInputSchema, input);
      requireOwnHost('hostProbe', a.runtime);
      const { runtime } = a;
      const { url: planned, expect, thresholds } = a.health;
      // The plan's URL names the service, not this host: the same path and query, asked of the release's own port here.
      const { pathname, search } = new URL(planned);
      const url = `http://127.0.0.1:${runtime.port}${pathname}${search}`;
      return withHeartbeat(async (progress, signal) => {
        const say = reporter('probe', runtime, progress);
        const report = await analyzeHealth({
          url,
          thresholds,
          expect,
          signal,
          onSample: (s, r) => progress(probeProgress(s, r)),
        });
        say(`${url}: ${report.passed ? 'passed' : 'failed'} after ${report.samples} probes (${report.reason})`);
        if (!report.passed) {
          throw refuse(FailureType.HealthCheckFailed, `host ${host}: health analysis of ${runtime.service}/${runtime.environment} at ${url} failed: ${report.reason}`, report);
        }
        return { host, passed: true, reason: report.reason, samples: report.samples };
      });
    },

    async hostRollback(input) {
      const a = parseHostInput('hostRollback', hostRollbackInputSchema, input);
      requireOwnHost('hostRollback', a.runtime);
      const { runtime, to } = a;
      return withHeartbeat((progress) =>
        oneAtATime(`${runtime.service}/${runtime.environment}`, async () => {
          const say = reporter('rollback', runtime, progress, to?.version);
          // Stopping and clearing needs no configuration; putting a release back starts it, so it does.
          const runtimeEnv = to ? await runtimeConfig('hostRollback', runtime) : {};
          const outcome = await targetFor(runtime, say).rollback(to, runtimeEnv);
          say(outcome.restored ? `release ${outcome.restored.releaseId} restored on port ${runtime.port}` : 'stopped; nothing is current');
          return { host, restored: outcome.restored };
        }),
      );
    },

    async hostStatus(input) {
      const a = parseHostInput('hostStatus', hostStatusInputSchema, input);
      requireOwnHost('hostStatus', a.runtime);
      return withHeartbeat(async (progress) => {
        const status = await targetFor(a.runtime, progress).status();
        return {
          host,
          current: status.current,
          running: status.running,
          ...(status.pid !== undefined ? { pid: status.pid } : {}),
          agent: { version: 1 as const, root: agentRoot },
        };
      });
    },
  };
}
