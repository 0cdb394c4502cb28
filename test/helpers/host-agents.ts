import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const REPO_ROOT = path.resolve(__dirname, '../..');

export interface AgentProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGKILL, no grace; resolves once it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (clean shutdown); resolves with its exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `src/agent/main.ts --host <h> …` as a real process (what `npm run agent` runs, without the npm
 * wrapper, so that a SIGKILL reaches the agent itself) and waits until it polls its task queues.
 */
export async function spawnHostAgent(hosts: string[], env: Record<string, string>): Promise<AgentProcess> {
  const args = ['--import', pathToFileURL(require.resolve('tsx')).href, path.join(REPO_ROOT, 'src/agent/main.ts'), ...hosts.flatMap((h) => ['--host', h])];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('agent ready')) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    child.once('exit', (code) => reject(new Error(`agent exited with ${code} before ready:\n${text}`)));
  });
  return {
    child,
    output: () => text,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
