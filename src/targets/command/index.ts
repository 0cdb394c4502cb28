import path from 'node:path';
import type { TargetKind } from '../kind';
import { commandTargetSpecSchema } from './config';
import { createCommandTarget } from './target';

/** The command target's plan: the operator's commands (argv) and their timeout. */
export interface CommandTargetPlan {
  type: 'command';
  deploy: string[];
  activate?: string[];
  current: string[];
  rollback: string[];
  timeoutMs: number;
}

/** Operator-supplied commands (kubectl, ssh, systemctl, …) run as argv, never through a shell. */
export const commandKind: TargetKind<typeof commandTargetSpecSchema, CommandTargetPlan> = {
  type: 'command',
  specSchema: commandTargetSpecSchema,
  supportsFrontDoor: false,
  // The commands deploy somewhere only the operator knows: the spec must say where readiness is answered.
  defaultHealthUrl: () => undefined,
  toPlan: (t) => ({ type: 'command', deploy: t.deploy, activate: t.activate, current: t.current, rollback: t.rollback, timeoutMs: t.timeoutMs }),
  create: (p, ctx) =>
    createCommandTarget({
      deploy: p.deploy,
      activate: p.activate,
      current: p.current,
      rollback: p.rollback,
      timeoutMs: p.timeoutMs,
      workDir: path.join(ctx.dataDir, 'work', 'command', ctx.service, ctx.environment),
      service: ctx.service,
      environment: ctx.environment,
      onProgress: ctx.onProgress,
    }),
  describe: {
    summary: (p) => `command: \`${p.deploy.join(' ')}\``,
    deployStage: (p) =>
      `runs the operator's commands (argv, no shell): deploy \`${p.deploy.join(' ')}\`${p.activate ? `, activate \`${p.activate.join(' ')}\`` : ''}, current \`${p.current.join(' ')}\`; rollback is \`${p.rollback.join(' ')}\` (timeout ${p.timeoutMs} ms each).`,
    inspectCommands: () => [],
    diskPath: (_p, dataDir) => dataDir,
    requiresRunningCurrent: false,
  },
};

export { createCommandTarget } from './target';
export { commandTargetSettingsSchema, commandTargetSpecSchema, type CommandTargetConfig, type CommandTargetSettings } from './config';
export { PLACEHOLDERS, substitutePlaceholders, type Placeholder } from './placeholders';
