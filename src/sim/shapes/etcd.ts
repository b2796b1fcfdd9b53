import { createHash } from 'node:crypto';
import type { AnswerContext, HttpShape, Reply, SimClusterView, SimServerView } from '../shape.js';
import { json, methodNotAllowed, NOT_FOUND } from '../shape.js';

/** A member's raft ID: a uint64 from its name, written as JSON writes uint64 values (a decimal string). */
export function etcdMemberId(name: string): string {
  return createHash('sha256').update(name).digest().readBigUInt64BE(0).toString();
}

/** The simulator's own reason texts (etcd's wording is its own). */
const NO_QUORUM = 'no leader: this member has no quorum';
const ALARM = 'an alarm is raised';

/**
 * An etcd member's client port (etcd 3.4 as Debian ships it; see docs/presets/etcd.md):
 * `GET /health` answers `{"health":"true"}` with 200, and `{"health":"false","reason":...}`
 * with 503 when the member has no quorum (or on `unhealthy`); `GET /version` answers
 * `etcdserver` (the cluster's version) and `etcdcluster` (its major.minor.0);
 * `POST /v3/maintenance/status` answers `header.member_id` and `leader` (uint64 values as
 * strings; leader "0" without quorum), `version` and `dbSize`; `GET /metrics` answers
 * etcd's own `etcd_server_has_leader`, `etcd_server_is_leader`,
 * `etcd_server_leader_changes_seen_total`, `etcd_server_proposals_failed_total` and
 * `etcd_mvcc_db_total_size_in_bytes`.
 *
 * Quorum spans the cluster: a member is cut off when any of its components is `down` or
 * `hang`, or it has `quorum_loss`; the others keep quorum while more than half of all
 * members are not cut off, and their leader is the first of them. So two members of three
 * down leave the third answering 503, as a real cluster does.
 */
export function etcdShape(cluster: SimClusterView): HttpShape {
  const cutOff = (s: SimServerView): boolean => s.hasFault('down') || s.hasFault('hang') || s.hasFault('quorum_loss');
  /** The leader a member sees, or undefined when it has no quorum. */
  const leaderSeenBy = (member: SimServerView): SimServerView | undefined => {
    if (cutOff(member)) return undefined;
    const connected = cluster.servers.filter((s) => !cutOff(s));
    return connected.length * 2 > cluster.servers.length ? connected[0] : undefined;
  };
  // Leader changes as each member counts them (etcd_server_leader_changes_seen_total):
  // one for the first election, one more whenever the leader it sees changes.
  const changes = new Map<string, { leader: string | undefined; count: number }>();
  const changesSeenBy = (member: SimServerView, leader: SimServerView | undefined): number => {
    const seen = changes.get(member.name) ?? { leader: undefined, count: 0 };
    if (leader !== undefined && leader.name !== seen.leader) {
      seen.leader = leader.name;
      seen.count++;
    }
    changes.set(member.name, seen);
    return seen.count;
  };
  return {
    protocol: 'http',
    faults: {
      unhealthy: '/health 503 {"health":"false"} with a reason (`value`), the cluster unchanged',
      version_drift: 'etcdserver and status version `value` (default 0.0.1)',
      quorum_loss: 'this member is cut off: /health 503 with a reason, leader "0"; the others lose quorum with it when they are no majority',
    },
    answer(ctx: AnswerContext): Reply {
      const f = ctx.faults;
      const version = f.has('version_drift') ? (f.get('version_drift')!.value ?? '0.0.1') : cluster.version;
      const leader = leaderSeenBy(ctx.server);
      switch (ctx.url.pathname) {
        case '/health': {
          if (ctx.method !== 'GET') return methodNotAllowed('GET');
          if (!leader) return json(503, { health: 'false', reason: NO_QUORUM });
          if (f.has('unhealthy')) return json(503, { health: 'false', reason: f.get('unhealthy')!.value ?? ALARM });
          return json(200, { health: 'true' });
        }
        case '/version':
          return versionReply(ctx, version);
        case '/v3/maintenance/status':
          if (ctx.method !== 'POST') return methodNotAllowed('POST');
          return json(200, {
            header: { member_id: etcdMemberId(ctx.server.name) },
            version,
            dbSize: '24576',
            leader: leader ? etcdMemberId(leader.name) : '0',
          });
        case '/metrics': {
          if (ctx.method !== 'GET') return methodNotAllowed('GET');
          const lines = [
            '# TYPE etcd_server_has_leader gauge',
            `etcd_server_has_leader ${leader ? 1 : 0}`,
            '# TYPE etcd_server_is_leader gauge',
            `etcd_server_is_leader ${leader === ctx.server ? 1 : 0}`,
            '# TYPE etcd_server_leader_changes_seen_total counter',
            `etcd_server_leader_changes_seen_total ${changesSeenBy(ctx.server, leader)}`,
            '# TYPE etcd_server_proposals_failed_total counter',
            'etcd_server_proposals_failed_total 0',
            '# TYPE etcd_mvcc_db_total_size_in_bytes gauge',
            'etcd_mvcc_db_total_size_in_bytes 24576',
          ];
          return { status: 200, contentType: 'text/plain; version=0.0.4; charset=utf-8', body: `${lines.join('\n')}\n` };
        }
        default:
          return NOT_FOUND;
      }
    },
  };
}

/**
 * An etcd member's peer port (etcd 3.4, etcdserver/api/etcdhttp/peer.go): besides raft's
 * own traffic it answers `GET /version` as the client port does. A TCP accept would prove
 * nothing (the kernel accepts for a frozen process); an answer proves the member runs.
 */
export function etcdPeerShape(cluster: SimClusterView): HttpShape {
  return {
    protocol: 'http',
    faults: {},
    answer(ctx: AnswerContext): Reply {
      return ctx.url.pathname === '/version' ? versionReply(ctx, cluster.version) : NOT_FOUND;
    },
  };
}

/** `GET /version`: the member's version, and the cluster's as its major.minor.0. */
function versionReply(ctx: AnswerContext, version: string): Reply {
  if (ctx.method !== 'GET') return methodNotAllowed('GET');
  const [major, minor] = version.split('.');
  return json(200, { etcdserver: version, etcdcluster: `${major ?? '0'}.${minor ?? '0'}.0` });
}
