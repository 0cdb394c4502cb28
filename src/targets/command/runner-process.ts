import { runCommandInProcess, type RunOptions } from './run-command';

/**
 * The command runner: a small process the worker starts once (./command-runner.ts) that starts target
 * commands for it. It runs each request with runCommandInProcess and sends back the result. It ends when the
 * worker does (its IPC channel closes); commands still running go on in their own process groups, as they
 * would if the worker had started them itself.
 */
export interface RunRequest {
  id: number;
  argv: string[];
  options: RunOptions;
}

if (!process.send) {
  process.stderr.write('runner-process: start me with child_process.fork (I answer over the IPC channel)\n');
  process.exit(2);
}
process.on('message', (request: RunRequest) => {
  void runCommandInProcess(request.argv, request.options).then((result) => {
    if (process.connected) process.send!({ id: request.id, result });
  });
});
process.on('disconnect', () => process.exit(0));
// Ctrl-C and a stop reach the worker's whole process group: the worker drains its activities, and the
// runner stays to report the commands they wait for, then ends with the worker (disconnect above).
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
