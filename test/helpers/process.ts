import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const MAIN = join(import.meta.dirname, '../../dist/src/main.js');

export interface ExporterProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<number | null>;
}

/**
 * Runs the built exporter as users do and waits for its "listening" line (logfmt or JSON).
 * `wrapper` is a command that execs the rest, such as `prlimit --nofile=600 --`.
 */
export function spawnExporter(args: string[], env: NodeJS.ProcessEnv = process.env, wrapper: string[] = []): Promise<ExporterProcess> {
  return spawnListening('exporter', [process.execPath, MAIN, '--web.listen-address=127.0.0.1:0', ...args], env, wrapper);
}

/**
 * Runs a command of the built binary (the exporter, `agent`) and waits for its "listening"
 * line (logfmt or JSON); rejects with its output when it exits first or does not listen
 * within 15 s.
 */
export async function spawnListening(what: string, argv: string[], env: NodeJS.ProcessEnv, wrapper: string[] = []): Promise<ExporterProcess> {
  const [command, ...rest] = [...wrapper, ...argv];
  const child = spawn(command!, rest, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${what} did not start:\n${out}`));
    }, 15_000);
    const check = (): void => {
      const m = /msg=listening address=([\d.]+:\d+)/.exec(out) ?? /"address":"([\d.]+:\d+)"[^\n]*"msg":"listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    };
    child.stdout!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${what} exited:\n${out}`));
    });
  });
  return { child, url, output: () => out, stop };
}
