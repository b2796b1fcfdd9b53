import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

/**
 * The runtime flags of the package's bin, from the shebang of src/main.ts
 * (`#!/usr/bin/env -S node FLAGS`): the launch lines in the Dockerfile, the systemd units,
 * the Kubernetes manifests and compose carry the same ones.
 */
export function launchFlags(): string[] {
  const shebang = readFileSync(join(root, 'src', 'main.ts'), 'utf8').split('\n')[0]!;
  const m = /^#!\/usr\/bin\/env -S node((?: --[a-z0-9-]+(?:=\S+)?)*)$/.exec(shebang);
  if (!m) throw new Error(`src/main.ts: the first line is not "#!/usr/bin/env -S node FLAGS": ${shebang}`);
  return m[1]!.trim().split(' ').filter(Boolean);
}

/**
 * Splits a launch line (`node FLAGS… PATH/dist/src/main.js ARGS…`) into its node flags and
 * its arguments. Throws when it does not start the bin.
 */
export function splitLaunch(line: readonly string[]): { node: string; flags: string[]; main: string; args: string[] } {
  const at = line.findIndex((a) => a.endsWith('dist/src/main.js'));
  if (at < 1) throw new Error(`not a launch line of dist/src/main.js: ${line.join(' ')}`);
  return { node: line[0]!, flags: line.slice(1, at), main: line[at]!, args: line.slice(at + 1) };
}
