import { promises as fs } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import path from 'node:path';
import { z } from 'zod';
import { FailureType, refuse } from '../../errors';
import { versionName } from '../../names';
import { parseCommandTargetConfig, type CommandName, type CommandTargetConfig, type CommandTargetSettings } from './config';
import { substitutePlaceholders, type PlaceholderValues } from './placeholders';
import { sameRelease, sha256Hex, toCurrentRelease, validateRelease, validateRollbackTarget } from '../release-id';
import { commandEnvironment, workerSecrets } from './command-env';
import { redact } from './redact';
import { runCommand } from './command-runner';
import { isUnfinished, previousFor, readTransitionState, writeTransitionState } from '../transition-state';
import type { CommandRecord, CurrentRelease, DeployOutcome, RollbackOutcome, Target, TargetStatus } from '../types';

/**
 * Operator-supplied commands (kubectl, ssh, systemctl, …) as argv arrays. Values are substituted into single
 * arguments and run without a shell. The `current` command prints `<version> <sha256>`, or nothing when no
 * release is live; it is the target's only view of what runs, so it should print nothing when the service is down.
 */
export function createCommandTarget(cfg: CommandTargetConfig): Target {
  const settings = parseCommandTargetConfig(cfg);
  const report = cfg.onProgress ?? (() => {});

  async function run(
    name: CommandName,
    template: string[],
    values: PlaceholderValues,
    runtimeEnv: Record<string, string>,
  ): Promise<{ record: CommandRecord; stdout: string }> {
    const argv = substitutePlaceholders(template, values);
    report(`running ${name} command: ${JSON.stringify(argv)}`);
    // The working directory holds the transition state; the first command may run before any deploy made it.
    await fs.mkdir(settings.workDir, { recursive: true });
    const result = await runCommand(argv, {
      cwd: settings.workDir,
      timeoutMs: settings.timeoutMs,
      // An allowlist, never the worker's environment; its secrets are masked should a tool find them anyway.
      env: commandEnvironment(runtimeEnv, values),
      secrets: { ...workerSecrets(), ...runtimeEnv },
    });
    const { record } = result;
    report(`${name} command finished: exit ${record.exitCode ?? 'none'} after ${record.durationMs} ms`);
    if (record.exitCode !== 0) {
      if (result.lost) {
        // Not a verdict on the command: it may or may not have run. Retryable, as a worker crash would be.
        throw ApplicationFailure.create({ type: 'CommandRunnerLost', message: `target.${name} command ${JSON.stringify(argv)} did not report back: ${result.lost}`, details: [record] });
      }
      const why = result.startError
        ? `could not be started (${result.startError}); check that ${argv[0]} is installed and on PATH`
        : result.timedOut
          ? `was killed after the ${settings.timeoutMs} ms timeout; raise target.timeoutMs or check the target`
          : `exited with code ${record.exitCode ?? `none (killed by a signal)`}; see its output in the failure details`;
      throw refuse(FailureType.TargetCommandFailed, `target.${name} command ${JSON.stringify(argv)} ${why}`, record);
    }
    return { record, stdout: result.stdout };
  }

  async function readCurrent(): Promise<{ release: CurrentRelease | null; record: CommandRecord }> {
    const { record, stdout } = await run('current', settings.current, identity(settings), {});
    return { release: parseCurrentOutput(settings.current, stdout), record };
  }

  return {
    async deploy(release, runtimeEnv): Promise<DeployOutcome> {
      const valid = validateRelease(release);
      refuseOtherIdentity(settings, valid.service, valid.environment);
      const next = toCurrentRelease(valid.version, valid.sha256);
      const stateFile = path.join(settings.workDir, `.deploy-state-${valid.service}-${valid.environment}.json`);
      const commands: CommandRecord[] = [];

      const [{ release: current, record }, state] = await Promise.all([readCurrent(), readTransitionState(stateFile)]);
      commands.push(record);
      const previous = previousFor(next, current, state);
      if (sameRelease(current, next) && !isUnfinished(next, state)) {
        report(`release ${next.releaseId} is already current; nothing to do`);
        return { releaseId: next.releaseId, noop: true, previous, commands };
      }

      const startedAt = new Date().toISOString();
      await fs.mkdir(settings.workDir, { recursive: true });
      await writeTransitionState(stateFile, { previous, next, completed: false, startedAt });
      const values: PlaceholderValues = {
        service: valid.service,
        environment: valid.environment,
        version: valid.version,
        sha256: valid.sha256,
        artifact: valid.artifactPath,
        releaseId: next.releaseId,
        previousVersion: previous?.version ?? '',
      };
      commands.push((await run('deploy', settings.deploy, values, runtimeEnv)).record);
      if (settings.activate) commands.push((await run('activate', settings.activate, values, runtimeEnv)).record);
      await writeTransitionState(stateFile, { previous, next, completed: true, startedAt });
      return { releaseId: next.releaseId, noop: false, previous, commands };
    },

    async current() {
      return (await readCurrent()).release;
    },

    async rollback(to, runtimeEnv): Promise<RollbackOutcome> {
      const target = to === null ? null : validateRollbackTarget(to);
      const commands: CommandRecord[] = [];
      let previousVersion = '';
      // Only ask for the current release when the rollback command wants it: a broken `current` command
      // must not stand in the way of a rollback that does not need it.
      if (settings.rollback.some((arg) => arg.includes('{previousVersion}'))) {
        const { release, record } = await readCurrent();
        commands.push(record);
        previousVersion = release?.version ?? '';
      }
      // Rolling back to nothing passes empty {version}/{sha256}/{releaseId}: the command stops the service.
      const values: PlaceholderValues = {
        ...identity(settings),
        version: target?.version ?? '',
        sha256: target?.sha256 ?? '',
        releaseId: target?.releaseId ?? '',
        previousVersion,
      };
      commands.push((await run('rollback', settings.rollback, values, runtimeEnv)).record);
      return { restored: target, commands };
    },

    async status(): Promise<TargetStatus> {
      const current = (await readCurrent()).release;
      return { current, running: current !== null };
    },
  };
}

function identity(settings: CommandTargetSettings): PlaceholderValues {
  return {
    ...(settings.service ? { service: settings.service } : {}),
    ...(settings.environment ? { environment: settings.environment } : {}),
  };
}

function refuseOtherIdentity(settings: CommandTargetSettings, service: string, environment: string): void {
  if (settings.service && settings.service !== service) {
    throw refuse(FailureType.InvalidInput, `this command target is configured for service ${settings.service}, not ${service}`);
  }
  if (settings.environment && settings.environment !== environment) {
    throw refuse(FailureType.InvalidInput, `this command target is configured for environment ${settings.environment}, not ${environment}`);
  }
}

const currentLine = z.tuple([versionName, sha256Hex]);

/** `<version> <sha256>` on one line, or nothing at all when no release is live. */
function parseCurrentOutput(template: string[], stdout: string): CurrentRelease | null {
  const text = stdout.trim();
  if (text === '') return null;
  const parsed = currentLine.safeParse(text.split(/\s+/));
  if (!parsed.success) {
    const masked = redact(text, workerSecrets());
    const shown = masked.length > 200 ? `${masked.slice(0, 200)}…` : masked;
    throw refuse(
      FailureType.TargetCommandFailed,
      `target.current command ${JSON.stringify(template)} printed ${JSON.stringify(shown)}; it must print "<version> <sha256>" (64 hex digits) on one line, or nothing when no release is live`,
    );
  }
  const [version, sha256] = parsed.data;
  return toCurrentRelease(version, sha256);
}
