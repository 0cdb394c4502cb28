import type { z } from 'zod';
import type { ProgressReporter, Target } from './types';

/** What the spec-to-plan mapping of a target kind is given. */
export interface TargetPlanContext {
  service: string;
  environment: string;
  /** Resolves a host path of the spec (relative paths against the worker's working directory). */
  resolvePath: (p: string) => string;
  /** The spec's `runtime.command` (argv run from the release directory). */
  runtimeCommand: string[];
  /** The spec's readiness path (health.path), e.g. "/readyz". */
  healthPath: string;
  /** The strategy puts a front door on the target's port (kinds with supportsFrontDoor only). */
  frontDoor?: { name: string; healthPath: string };
}

/** What a target is built with, besides its plan. */
export interface TargetContext {
  service: string;
  environment: string;
  /** The worker's data directory (per-target working state that has no home of its own lives under it). */
  dataDir: string;
  onProgress?: ProgressReporter;
}

/**
 * A kind of target, in one module under `src/targets/<kind>/`: its spec schema (the one validation of its
 * settings, so the spec and the target can never disagree), the plan it resolves to, its factory, and what
 * pre-checks and the runbook say about it. The registry lists the kinds; nothing else names them.
 */
export interface TargetKind<
  Schema extends z.ZodType<{ type: string }> = z.ZodType<{ type: string }>,
  Plan extends { type: string } = { type: string },
  Spec extends { type: string } = z.infer<Schema>,
> {
  readonly type: Spec['type'];
  /** `environments.<env>.target` of the spec: a strict object with `type: <kind>`. */
  readonly specSchema: Schema;
  /** It can run two releases behind an HAProxy front door (blueGreen and canary strategies). */
  readonly supportsFrontDoor: boolean;
  /** The readiness URL when the spec's health section names none; undefined: the spec must give `health.url`. */
  defaultHealthUrl(target: Spec, path: string): string | undefined;
  /** The resolved plan (absolute paths), recorded in history: names and references, never secret values. */
  toPlan(target: Spec, ctx: TargetPlanContext): Plan;
  create(plan: Plan, ctx: TargetContext): Target;
  /** For pre-checks and the runbook. */
  describe: {
    /** One line: where releases go. */
    summary(plan: Plan): string;
    /** What the deploy stage does, for the runbook. */
    deployStage(plan: Plan): string;
    /** Shell commands an operator runs to look at the target by hand (runbook, needs_intervention). */
    inspectCommands(plan: Plan): string[];
    /** The directory whose free disk the pre-checks measure. */
    diskPath(plan: Plan, dataDir: string): string;
    /** Whether a forward deploy requires the current release's process to be running (not just answering). */
    requiresRunningCurrent: boolean;
    /** A runbook section of the kind's own (title, Markdown lines and shell commands), e.g. a fleet's hosts and agents. */
    runbookSection?(plan: Plan, ids: { workflowId: string }): { title: string; text: string[]; commands: string[]; after?: string[] };
  };
}
