import type { WorkerConfig } from '../config';
import { SigningError, signStatement } from '../trust/sign';
import type { CliContext } from './context';
import { CliError, usageError } from './errors';
import { ExitCode } from './exit-codes';
import { oneLine } from './format';
import { shellCommand } from './shell';

/**
 * The CLI side of signed decisions: signing with the operator's key through ssh-keygen (src/trust/sign.ts),
 * turning its failures into documented exit codes, and building the Temporal CLI command `--print` shows.
 */

/**
 * Signs `statement` with `keyFile` (a private key, or a .pub whose key is in ssh-agent). Says on stderr
 * what is being signed before ssh-keygen runs (a security key waits for a touch meanwhile), and passes on
 * ssh-keygen's own prompts. A key problem exits 7 (nothing was sent); a bad statement exits 2.
 */
export async function signWithKey(ctx: CliContext, o: { statement: string; keyFile: string; what: string }): Promise<string> {
  ctx.io.err(`signing with ${o.keyFile}: ${o.what}`);
  try {
    return await signStatement({
      statement: o.statement,
      keyFile: o.keyFile,
      env: ctx.env,
      // Prompts ("Confirm user presence for key …", "Enter passphrase") matter; the routine banner does not.
      onMessage: (line) => {
        if (!/^Signing (data on standard input|file)/.test(line)) ctx.io.err(`ssh-keygen: ${oneLine(line, 200)}`);
      },
    });
  } catch (err) {
    if (err instanceof SigningError) {
      if (err.code === 'bad-input') throw usageError(`--key: ${err.message}`);
      throw new CliError(`could not sign, nothing was sent: ${err.message}`, ExitCode.signing);
    }
    throw err;
  }
}

const DEFAULT_ADDRESSES = new Set(['127.0.0.1:7233', 'localhost:7233']);

/**
 * The Temporal CLI flags that reach the server deployctl talks to, for a printed command: the address and
 * namespace when they are not the defaults, and the TLS files (paths, never contents). An API key is never
 * printed: the Temporal CLI reads TEMPORAL_API_KEY from its environment.
 */
export function temporalConnectionFlags(config: Pick<WorkerConfig, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE' | 'TEMPORAL_TLS_CERT' | 'TEMPORAL_TLS_KEY' | 'TEMPORAL_TLS_CA' | 'TEMPORAL_TLS_SERVER_NAME'>): string[] {
  const flags: string[] = [];
  if (!DEFAULT_ADDRESSES.has(config.TEMPORAL_ADDRESS)) flags.push('--address', config.TEMPORAL_ADDRESS);
  if (config.TEMPORAL_NAMESPACE !== 'default') flags.push('--namespace', config.TEMPORAL_NAMESPACE);
  if (config.TEMPORAL_TLS_CERT) flags.push('--tls-cert-path', config.TEMPORAL_TLS_CERT);
  if (config.TEMPORAL_TLS_KEY) flags.push('--tls-key-path', config.TEMPORAL_TLS_KEY);
  if (config.TEMPORAL_TLS_CA) flags.push('--tls-ca-path', config.TEMPORAL_TLS_CA);
  if (config.TEMPORAL_TLS_SERVER_NAME) flags.push('--tls-server-name', config.TEMPORAL_TLS_SERVER_NAME);
  return flags;
}

export interface PrintedCommand {
  /** The argv, `temporal` first. */
  argv: string[];
  /** The same, quoted for a POSIX shell. */
  command: string;
}

/** `temporal <verb…> [connection flags] <flags>`: connection flags right after the verb, as an operator adds them. */
export function temporalCommand(ctx: CliContext, verb: string[], flags: string[]): PrintedCommand {
  const argv = ['temporal', ...verb, ...temporalConnectionFlags(ctx.config), ...flags];
  if (ctx.config.TEMPORAL_API_KEY) ctx.io.err('note: the printed command does not carry TEMPORAL_API_KEY; the Temporal CLI reads it from its environment');
  return { argv, command: shellCommand(argv) };
}

/** Prints a command for `--print`: only the command on stdout (so `$(deployctl … --print)` works), or JSON. */
export function printCommand(ctx: CliContext, printed: PrintedCommand, extra: Record<string, unknown>): void {
  if (ctx.json) ctx.io.out(JSON.stringify({ ...extra, command: printed.command, argv: printed.argv }));
  else ctx.io.out(printed.command);
}
