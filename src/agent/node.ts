import { arch, hostname, release, type, version } from 'node:os';
import { decodeText, readBounded } from './facts/read-file.js';

/** What the agent says about its node, besides the facts; `time` is added per answer. */
export interface NodeInfo {
  readonly hostname: string;
  /** Kernel name and release, as the exporter's `os` fact: "Linux 6.1.0-amd64", "Windows_NT 10.0.20348". */
  readonly os: string;
  /** The kernel's own version text (on Windows the edition, e.g. "Windows Server 2022 Datacenter"). */
  readonly osVersion: string;
  /** `PRETTY_NAME` of /etc/os-release ("Debian GNU/Linux 12 (bookworm)"), or null where there is none. */
  readonly distribution: string | null;
  readonly arch: string;
}

/** Reads the node's facts from Node's `os` module and /etc/os-release; never fails. */
export async function readNodeInfo(): Promise<NodeInfo> {
  let distribution: string | null = null;
  try {
    const text = decodeText(await readBounded('/etc/os-release', 64 * 1024));
    const m = /^PRETTY_NAME=(?:"([^"\n]*)"|'([^'\n]*)'|(\S*))$/m.exec(text);
    distribution = (m?.[1] ?? m?.[2] ?? m?.[3] ?? '').slice(0, 128) || null;
  } catch {
    // Not Linux, or a minimal image without the file: no distribution to tell.
  }
  return { hostname: hostname(), os: `${type()} ${release()}`, osVersion: version(), distribution, arch: arch() };
}
