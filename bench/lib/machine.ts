import os from 'node:os';
import { Client } from 'pg';

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  temporalCli: string;
  postgres: string;
  kernel: string;
  /** 1-minute load averages at the start and end of the run: the machine may be shared. */
  loadAverageStart: number;
  loadAverageEnd?: number;
}

export async function machineInfo(temporalCli: string, adminUrl: string): Promise<MachineInfo> {
  let postgres = 'unknown';
  const c = new Client({ connectionString: adminUrl });
  try {
    await c.connect();
    postgres = ((await c.query('SHOW server_version')).rows[0]?.server_version as string) ?? 'unknown';
  } catch {
    // reported as unknown
  } finally {
    await c.end().catch(() => undefined);
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    temporalCli,
    postgres,
    kernel: `${os.type()} ${os.release()}`,
    loadAverageStart: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}
