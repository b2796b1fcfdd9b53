import { spawnSync } from 'node:child_process';

/** Path of a required external program, or a failure that says how to get it. */
export function requireTool(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || !path) {
    throw new Error(`${name} is not installed; run "node scripts/ensure-deps.mjs" (installs Debian's prometheus, prometheus-alertmanager and chromium packages) or install it by hand`);
  }
  return path;
}

export function run(cmd: string, args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync(requireTool(cmd), args, { input, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}
