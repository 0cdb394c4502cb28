import { ExitCode } from './exit-codes';

/** An error meant for the operator: the message names what is wrong and what to do; `exitCode` is documented. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = ExitCode.error) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(message, ExitCode.usage);
