import { progress } from './progress';

/**
 * Everything the bench starts registers how to undo it here; `run()` undoes it all in reverse order, once,
 * whether the bench finished, failed or was interrupted (Ctrl-C, SIGTERM).
 */
export class Cleanup {
  private readonly steps: Array<{ label: string; fn: () => Promise<unknown> | unknown }> = [];
  private running: Promise<void> | undefined;

  add(label: string, fn: () => Promise<unknown> | unknown): void {
    this.steps.push({ label, fn });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.fn();
        } catch (err) {
          progress(`cleanup: ${step.label} failed: ${(err as Error).message}`);
        }
      }
    })();
    return this.running;
  }

  /** On SIGINT/SIGTERM: clean up, then exit with 128 + the signal's number. */
  installSignalHandlers(): void {
    const onSignal = (signal: NodeJS.Signals, code: number) => {
      progress(`${signal}: stopping and cleaning up (processes, databases, temp files)…`);
      // A second Ctrl-C during cleanup is ignored on purpose: leaving half the cleanup undone is worse.
      process.on(signal, () => undefined);
      // Work the signal abandoned (a client call retrying on a connection the cleanup closed) may throw from
      // a timer: reported, never allowed to end the process before the cleanup is done.
      process.on('uncaughtException', (err) => progress(`ignored during cleanup: ${err.message}`));
      process.on('unhandledRejection', (err) => progress(`ignored during cleanup: ${(err as Error | undefined)?.message ?? String(err)}`));
      void this.run().finally(() => process.exit(code));
    };
    process.once('SIGINT', () => onSignal('SIGINT', 130));
    process.once('SIGTERM', () => onSignal('SIGTERM', 143));
  }
}
