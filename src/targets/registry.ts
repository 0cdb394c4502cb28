import { z } from 'zod';
import { FailureType, refuse } from '../errors';
import { commandKind } from './command';
import { fleetKind } from './fleet';
import type { TargetContext, TargetKind, TargetPlanContext } from './kind';
import { localKind } from './local';
import type { Target } from './types';

/**
 * The target kinds: the one place that knows which exist. A new kind is a folder under `src/targets/` and a
 * line here; the spec's target union, the plan type and the factory all derive from this list.
 */
const KINDS = [localKind, commandKind, fleetKind] as const;

type AnyKind = (typeof KINDS)[number];
/** `environments.<env>.target` of a validated spec. */
export type TargetSpec = z.output<AnyKind['specSchema']>;
/** The resolved target of a plan, as history records it. */
export type TargetPlan = ReturnType<AnyKind['toPlan']>;
export type TargetType = AnyKind['type'];

export const TARGET_TYPES = KINDS.map((k) => k.type) as TargetType[];

/** The spec's target section: one of the kinds, told apart by `type`. */
type KindSchema = AnyKind['specSchema'];
export const targetSpecSchema = z.discriminatedUnion(
  'type',
  KINDS.map((k) => k.specSchema) as unknown as [KindSchema, ...KindSchema[]],
) as unknown as z.ZodType<z.output<KindSchema>, z.input<KindSchema>>;

function kindOf(type: string): TargetKind {
  const kind = KINDS.find((k) => k.type === type);
  if (!kind) throw refuse(FailureType.SpecInvalid, `target.type "${type}" is not a target kind this worker knows (${TARGET_TYPES.join(', ')})`);
  return kind as unknown as TargetKind;
}

export function defaultHealthUrl(target: TargetSpec, path: string): string | undefined {
  return kindOf(target.type).defaultHealthUrl(target, path);
}

/** Whether the kind can run two releases behind a front door (blueGreen and canary strategies). */
export function supportsFrontDoor(target: TargetSpec): boolean {
  return kindOf(target.type).supportsFrontDoor;
}

export function targetPlan(target: TargetSpec, ctx: TargetPlanContext): TargetPlan {
  return kindOf(target.type).toPlan(target, ctx) as TargetPlan;
}

/** The plan's target, built fresh for each use (targets keep their state on disk, not in memory). */
export function createTarget(plan: TargetPlan, ctx: TargetContext): Target {
  return kindOf(plan.type).create(plan, ctx);
}

export interface TargetDescription {
  summary: string;
  deployStage: string;
  inspectCommands: string[];
  diskPath: string;
  requiresRunningCurrent: boolean;
  runbookSection?: { title: string; text: string[]; commands: string[]; after?: string[] };
}

/** What pre-checks and the runbook say about a plan's target. */
export function describeTarget(plan: TargetPlan, dataDir: string, ids: { workflowId: string } = { workflowId: '<workflow id>' }): TargetDescription {
  const d = kindOf(plan.type).describe;
  const section = d.runbookSection?.(plan, ids);
  return {
    summary: d.summary(plan),
    deployStage: d.deployStage(plan),
    inspectCommands: d.inspectCommands(plan),
    diskPath: d.diskPath(plan, dataDir),
    requiresRunningCurrent: d.requiresRunningCurrent,
    ...(section ? { runbookSection: section } : {}),
  };
}
