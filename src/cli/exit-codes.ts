import type { DeployStatus } from '../workflows/types';

/**
 * deployctl's exit codes. Scripts branch on them, so they are part of the interface: keep them stable and
 * keep EXIT_CODE_HELP in step.
 */
export const ExitCode = {
  ok: 0,
  /** Something unexpected failed (the message says what). */
  error: 1,
  /** Bad arguments or configuration: nothing was started or changed. */
  usage: 2,
  /** A deploy (or a stop/undeploy) of this service in this environment is already running (the lock). */
  alreadyRunning: 3,
  /** The deploy refused the request (approval not allowed, no gate or intervention waiting). */
  refused: 4,
  /** No such deploy, or nothing to act on (no live release to roll back from). */
  notFound: 5,
  /** Temporal or the orchestrator's database could not be reached. */
  unreachable: 6,
  /** The decision or request could not be signed (key missing or unusable, not in ssh-agent, no ssh-keygen): nothing was sent. */
  signing: 7,
  /** Ctrl-C while following: the deploy itself continues. */
  interrupted: 130,
} as const;

/** Exit code of `deploy --follow` / `rollback --follow` for each final (or operator-blocking) status. */
export const OUTCOME_EXIT_CODE: Partial<Record<DeployStatus, number>> = {
  succeeded: 0,
  rolled_back: 10,
  rejected: 11,
  failed: 12,
  cancelled: 13,
  needs_intervention: 14,
};

export const EXIT_CODE_HELP = `Exit codes:
  0    success (with --follow: the deploy succeeded)
  1    unexpected error
  2    bad arguments or configuration; nothing was started
  3    a deploy, stop or undeploy of this service in this environment is already running (the lock)
  4    refused by the deploy (e.g. the approver requested it, no gate is waiting, the signature does not verify)
  5    not found (no such deploy, nothing live to roll back from)
  6    Temporal or the orchestrator database is unreachable
  7    could not sign with --key (missing, unreadable, passphrase without ssh-agent, no ssh-keygen); nothing was sent
  10   --follow: rolled_back (a stage failed; the previous release was restored)
  11   --follow: rejected at an approval gate (or the gate timed out)
  12   --follow: failed before changing anything (or an operator aborted a rollback)
  13   --follow: cancelled
  14   --follow: needs_intervention (a rollback step failed; see "deployctl intervene --help")
  130  Ctrl-C while following; the deploy continues`;
