import { z } from 'zod';
import { parseJsonPath } from './json-path.js';
import { boolean, duration, integer, nonEmptyText, size, text, textEnum } from './yaml-schema.js';

/**
 * The configuration file, declared once: validation, defaults and the published
 * `config.schema.json` (for editors) all come from here. Cross-field rules that need the
 * whole file (duplicate names, timeouts below intervals, templates filled in per server)
 * are in `load.ts`.
 */

/** Node runs no timer longer than 2^31-1 ms (24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const METRIC_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const name = () =>
  nonEmptyText().refine((v) => NAME.test(v), {
    error: (iss) => `"${String(iss.input)}" must start with a letter or digit and hold only letters, digits, _ . -`,
  });

const timerDuration = () => duration(MAX_TIMER_MS);

/** Where a fact is read from in an answer: a JSON path, or `{header: NAME}`. */
export type Source = { readonly json: readonly (string | number)[] } | { readonly header: string };

const jsonPath = () =>
  nonEmptyText().transform((v, ctx): Source => {
    const json = parseJsonPath(v);
    if (!json) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a JSON path (examples: status, node.version, items[0].os, ["key.id"])` });
      return z.NEVER;
    }
    return { json };
  });

const headerSource = z.strictObject({ header: nonEmptyText() }).transform((h): Source => ({ header: h.header.toLowerCase() }));

const source = () =>
  z.union([jsonPath(), headerSource], {
    error: 'must be a JSON path (status, node.version) or {header: NAME}',
  });

/**
 * A fact that compares two places of one answer: "true" when both hold the same text,
 * "false" when not (etcd's `leader` and `header.member_id`: "is this member the leader").
 */
export interface EqualFact {
  readonly equal: readonly [Source, Source];
}

/** Where a text fact is read from: one place of the answer, or a comparison of two. */
export type FactSource = Source | EqualFact;

const equalFact = z
  .strictObject({ equal: z.tuple([source(), source()]).meta({ description: 'The two places of the answer compared.' }) })
  .meta({ description: '"true" when both places of the answer hold the same text, "false" when they differ.' });

export const DEFAULT_HEALTHY = ['ok', 'up', 'online', 'healthy', 'running', 'pass'];

const statusSpec = z
  .strictObject({
    json: jsonPath().optional().meta({ description: 'The JSON path of the status value; or header.' }),
    header: nonEmptyText().optional().meta({ description: 'A response header that holds the status; or json.' }),
    healthy: z
      .array(text())
      .min(1, { error: 'must list at least one value' })
      .optional()
      .meta({ description: 'Values that count as healthy, compared trimmed and in any case. Default: ok, up, online, healthy, running, pass.' }),
    contains: z
      .array(text())
      .min(1, { error: 'must list at least one value' })
      .optional()
      .meta({ description: 'Healthy when the value holds one of these, in any case (a status "Running (pid 42)"); instead of healthy.' }),
    pattern: nonEmptyText()
      .refine((v) => regexOf(v) !== undefined, { error: (iss) => `"${String(iss.input)}" is not a regular expression (JavaScript syntax)` })
      .optional()
      .meta({ description: 'Healthy when the value, trimmed, matches this regular expression (JavaScript syntax, any case); instead of healthy.' }),
    reason: source()
      .optional()
      .meta({ description: 'Where the answer says why it is unhealthy: its text (at most 120 characters) joins the failure detail.' }),
  })
  .check((ctx) => {
    const v = ctx.value;
    if ((v.json === undefined) === (v.header === undefined)) {
      ctx.issues.push({ code: 'custom', input: v, message: 'needs "json" (a JSON path) or "header", one of them' });
    }
    const forms = (['healthy', 'contains', 'pattern'] as const).filter((f) => v[f] !== undefined);
    if (forms.length > 1) ctx.issues.push({ code: 'custom', input: v, path: [forms[1]!], message: `set one of "healthy", "contains" or "pattern", not ${forms.map((f) => `"${f}"`).join(' and ')}` });
  });

/** A status pattern compiled as matched: any case; undefined when it is no regular expression. */
function regexOf(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'i');
  } catch {
    return undefined;
  }
}

/** How a component reads its status, with the values that count as healthy. */
export interface StatusRule {
  readonly from: Source;
  /** Lower-case, trimmed: compared with the reported value trimmed and lower-cased. */
  readonly healthy: readonly string[];
  /**
   * `contains`: healthy when the value holds one of `healthy` (a TM status "Running (pid 42)");
   * `pattern`: when it matches `pattern` (then `healthy` is empty).
   */
  readonly match: 'equals' | 'contains' | 'pattern';
  /** Compiled with the `i` flag; set when `match` is `pattern`. */
  readonly pattern?: RegExp;
  readonly reason?: Source;
}

const status = () =>
  z.union([jsonPath(), statusSpec], { error: 'must be a JSON path, or {json|header, healthy|contains|pattern, reason}' }).transform((s): StatusRule => {
    if ('json' in s && Array.isArray(s.json)) return { from: s as Source, healthy: DEFAULT_HEALTHY, match: 'equals' };
    const spec = s as z.output<typeof statusSpec>;
    const from = spec.json ?? { header: spec.header!.toLowerCase() };
    const reason = spec.reason ? { reason: spec.reason } : {};
    if (spec.pattern !== undefined) return { from, healthy: [], match: 'pattern', pattern: regexOf(spec.pattern)!, ...reason };
    const values = spec.contains ?? spec.healthy ?? DEFAULT_HEALTHY;
    return { from, healthy: values.map((v) => v.trim().toLowerCase()), match: spec.contains ? 'contains' : 'equals', ...reason };
  });

const tls = z
  .strictObject({
    ca_file: nonEmptyText().optional().meta({ description: 'CA certificates (PEM) that sign the server\'s certificate, instead of the system\'s; relative to this file.' }),
    cert_file: nonEmptyText().optional().meta({ description: 'Client certificate (PEM), for servers that ask for one; with key_file.' }),
    key_file: nonEmptyText().optional().meta({ description: 'The client certificate\'s private key (PEM); with cert_file.' }),
    server_name: nonEmptyText().optional().meta({ description: 'Name checked against the server\'s certificate (and sent as SNI), when it differs from the host.' }),
    insecure_skip_verify: boolean().optional().meta({ description: 'true: accept any server certificate. For tests only.' }),
  })
  .check((ctx) => {
    if (Boolean(ctx.value.cert_file) !== Boolean(ctx.value.key_file)) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: 'cert_file and key_file must be set together' });
    }
  });
export type TlsSettings = z.output<typeof tls>;

const secretRefs = {
  password_file: nonEmptyText().optional().meta({ description: 'File holding the password, relative to this file; or password_env.' }),
  password_env: nonEmptyText().optional().meta({ description: 'Environment variable holding the password; or password_file.' }),
};

/** A field the loader requires, left out of the editor schema so that a preset's endpoint can be changed in part. */
const required = (value: object, field: string, ctx: { issues: z.core.$ZodRawIssue[] }): void => {
  if ((value as Record<string, unknown>)[field] === undefined) ctx.issues.push({ code: 'custom', input: value, message: `missing required field "${field}"` });
};

const httpFields = {
  url: nonEmptyText().optional().meta({ description: 'URL template: {address}, {name}, {site}, {role}, {labels.NAME}. Required.' }),
  method: z.enum(['GET', 'HEAD', 'POST']).optional().meta({ description: 'Default GET.' }),
  headers: z
    .record(nonEmptyText(), text())
    .optional()
    .meta({ description: 'Request headers, sent as written (Accept-Encoding here replaces the default gzip, deflate, br).' }),
  body: text().optional().meta({ description: 'Request body, sent as written (with method POST); set Content-Type in headers.' }),
  basic_auth: z
    .strictObject({ username: nonEmptyText().meta({ description: 'The user name.' }), ...secretRefs })
    .optional()
    .meta({ description: 'HTTP basic authentication. password_file or password_env is required (an empty file for an empty password).' }),
  bearer_token_file: nonEmptyText().optional().meta({ description: 'File holding a bearer token (Authorization: Bearer), relative to this file.' }),
  bearer_token_env: nonEmptyText().optional().meta({ description: 'Environment variable holding a bearer token.' }),
  tls: tls.optional().meta({ description: 'TLS settings for https URLs.' }),
  valid_status_codes: z
    .array(integer(100, 599, 'an HTTP status code'))
    .min(1)
    .optional()
    .meta({ description: 'HTTP status codes that count as an answer. Default: any 2xx; redirects are not followed.' }),
  body_size_limit: size()
    .optional()
    .meta({ description: 'Most bytes of the decoded body; a larger body fails with body_too_large. Default 1MiB.' }),
};
const http = z.strictObject(httpFields).check((ctx) => required(ctx.value, 'url', ctx));
export type HttpSettings = z.output<typeof http>;

// Digits as text too: a preset parameter fills a port in as text.
const port = () =>
  z.union([integer(1, 65535, 'a port number'), nonEmptyText().refine((v) => /\{[a-z_.A-Z0-9]+\}/.test(v) || (/^\d+$/.test(v) && +v >= 1 && +v <= 65535))], {
    error: 'must be a port number (1-65535) or a template such as "{labels.port}"',
  });

const tcp = z
  .strictObject({
    host: nonEmptyText().optional().meta({ description: 'Host to connect to. Default {address}, the server\'s address.' }),
    port: port().optional().meta({ description: 'A port number or a template such as "{labels.port}". Required.' }),
    tls: tls.optional().meta({ description: 'Set (`tls: {}` will do) to add a TLS handshake to the connect.' }),
  })
  .check((ctx) => required(ctx.value, 'port', ctx));
export type TcpSettings = z.output<typeof tcp>;

/**
 * A GET of a product's own Prometheus text exposition (etcd's and Patroni's `/metrics`): the
 * http settings less the method and body.
 */
const { method: _method, body: _body, ...prometheusFields } = httpFields;
const prometheus = z.strictObject(prometheusFields).check((ctx) => required(ctx.value, 'url', ctx));

/** PostgreSQL's own answer to one read-only query, through the `pg` client. */
const postgres = z
  .strictObject({
    host: nonEmptyText().optional().meta({ description: 'Host to connect to. Default {address}, the server\'s address.' }),
    port: port().optional().meta({ description: 'A port number or a template such as "{labels.port}". Default 5432.' }),
    database: nonEmptyText().optional().meta({ description: 'The database to connect to. Default postgres.' }),
    user: nonEmptyText().optional().meta({ description: 'The role to connect as; it needs no privilege beyond connecting for the default query. Required.' }),
    ...secretRefs,
    tls: tls.optional().meta({ description: 'Set (`tls: {}` will do) to require TLS, with the certificate checked as configured; else no TLS.' }),
    query: nonEmptyText()
      .optional()
      .meta({ description: 'One query, run in a read-only transaction; components read the columns of its first row. Default: SELECT pg_is_in_recovery() AS in_recovery, current_setting(\'server_version\') AS server_version.' }),
  })
  .check((ctx) => required(ctx.value, 'user', ctx));

/** The settings of every probe kind, by the key that names the kind in an endpoint. */
export const PROBE_KINDS = { http, tcp, prometheus, postgres } as const;

/** An endpoint: one request to one server per interval. Exactly one kind. */
const endpoint = z
  .strictObject({
    http: http.optional().meta({ description: 'An HTTP(S) request.' }),
    tcp: tcp.optional().meta({ description: 'A TCP connect (and optionally a TLS handshake).' }),
    prometheus: prometheus
      .optional()
      .meta({ description: 'A GET of a Prometheus text exposition (a product\'s own /metrics); components read a family\'s first sample as NAME.value and NAME.labels.LABEL, or any series as ["NAME{label=\\"value\\"}"].value.' }),
    postgres: postgres.optional().meta({ description: 'A read-only query to PostgreSQL; components read the columns of its first row with JSON paths.' }),
    probe_timeout: timerDuration().optional().meta({ description: 'Deadline of the whole probe. Default: the cluster\'s.' }),
  })
  .check((ctx) => {
    const kinds = Object.keys(PROBE_KINDS).filter((k) => ctx.value[k as keyof typeof PROBE_KINDS] !== undefined);
    if (kinds.length !== 1) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: `must hold exactly one probe kind (${Object.keys(PROBE_KINDS).join(', ')})` });
    }
  });
export type EndpointSettings = z.output<typeof endpoint>;

const facts = {
  status: status()
    .optional()
    .meta({ description: 'Where the component\'s status is: a JSON path (healthy values: ok, up, online, healthy, running, pass), or a mapping.' }),
  version: source().optional().meta({ description: 'Where the software version is; compared across the cluster for "version in sync".' }),
  key_fingerprint: source()
    .optional()
    .meta({ description: 'Where a fingerprint of the encryption key is; hashed again with the key hash secret and compared across the cluster.' }),
  key: source().optional().meta({ description: 'Where a raw key is: replaced at once by its keyed hash, never kept or shown; or key_fingerprint.' }),
  heartbeat: source()
    .optional()
    .meta({ description: 'Where the reported heartbeat is: RFC 3339 (no offset: UTC), or epoch seconds or milliseconds. Default: the last successful probe.' }),
  os: source().optional().meta({ description: 'Where the operating system is; shown per server.' }),
  clock: source()
    .optional()
    .meta({ description: 'Where the node\'s clock at the answer is (the agent\'s node.time): RFC 3339, or epoch seconds or milliseconds. Its offset from the exporter\'s clock is exported as appcluster_server_clock_offset_seconds.' }),
  values: z
    .record(
      text().refine((v) => METRIC_NAME.test(v), { error: (i) => `value name "${String(i.input)}" must match [a-zA-Z_][a-zA-Z0-9_]*` }),
      source(),
    )
    .optional()
    .meta({ description: 'Numbers to export as appcluster_component_value, by name; put the unit in the name (queue_age_seconds).' }),
  facts: z
    .record(
      text().refine((v) => LABEL_NAME.test(v), { error: (i) => `fact name "${String(i.input)}" must match [a-zA-Z_][a-zA-Z0-9_]*` }),
      z.union([source(), equalFact], { error: 'must be a JSON path (status, node.version), {header: NAME} or {equal: [PATH, PATH]}' }),
    )
    .optional()
    .meta({ description: 'Text facts to export as appcluster_component_fact_info, by name (role, leader).' }),
};

/** What a server may override of a component it runs. */
const componentTiming = {
  required: boolean()
    .optional()
    .meta({ description: 'Whether the server is online only while this component is up and not stale. Default true.' }),
  stale_timeout: duration().optional().meta({ description: 'A heartbeat older than this is stale. Default: the cluster\'s.' }),
  heartbeat_interval: timerDuration().optional().meta({ description: 'How often the component is probed. Default: the cluster\'s.' }),
  /** Only for a component with a probe of its own: a shared endpoint has its own timeout. */
  probe_timeout: timerDuration()
    .optional()
    .meta({ description: 'Deadline of the probe, for a component with a probe of its own (a shared endpoint sets its own). Default: the cluster\'s.' }),
};

const component = z
  .strictObject({
    name: name().meta({ description: 'The component label: web, service, transaction-manager, ...' }),
    enabled: boolean()
      .optional()
      .meta({ description: 'false: the cluster does not run this component (with a preset: leaves the preset\'s component out).' }),
    endpoint: name().optional().meta({ description: 'The name of a shared endpoint of the cluster whose answer this component reads; or probe.' }),
    probe: endpoint.optional().meta({ description: 'An endpoint of its own, that only this component reads; or endpoint.' }),
    ...componentTiming,
    expected_version: text().optional().meta({ description: 'The version every server should report. Default: the cluster\'s, else the version more than half of the servers report (without one, every server is out of sync: "no majority").' }),
    ...facts,
  })
  .check((ctx) => {
    const v = ctx.value;
    if ((v.endpoint === undefined) === (v.probe === undefined)) {
      ctx.issues.push({ code: 'custom', input: v, message: 'needs "probe" (an endpoint of its own) or "endpoint" (the name of a shared one), one of them' });
    }
    if (v.key && v.key_fingerprint) ctx.issues.push({ code: 'custom', input: v, path: ['key'], message: 'set either "key" or "key_fingerprint", not both' });
  });
export type ComponentSettings = z.output<typeof component>;

const componentOverride = z.strictObject({
  enabled: boolean().optional().meta({ description: 'false: this server does not run the component.' }),
  ...componentTiming,
});

const server = z.strictObject({
  name: name().meta({ description: 'The server label.' }),
  address: nonEmptyText().meta({ description: 'IPv4 or IPv6 address (with or without brackets) or host name; {address} in templates.' }),
  site: nonEmptyText().optional().meta({ description: 'The site the server stands at: primary, dr, ... Default primary.' }),
  role: z
    .enum(['active', 'standby'])
    .optional()
    .meta({ description: 'standby: a server of a passive disaster-recovery site, shown but never paging nor counted for min_servers_online. Default active.' }),
  labels: z
    .record(
      text().refine((v) => LABEL_NAME.test(v), { error: (i) => `label name "${String(i.input)}" must match [a-zA-Z_][a-zA-Z0-9_]*` }),
      text(),
    )
    .optional()
    .meta({ description: 'Free labels, usable in templates as {labels.NAME}.' }),
  components: z
    .record(text(), componentOverride.optional())
    .optional()
    .meta({ description: 'Changes to the cluster\'s components on this server, by component name.' }),
  endpoints: z
    .record(text(), z.strictObject({ enabled: boolean().optional().meta({ description: 'false: this server lacks the endpoint.' }) }).optional())
    .optional()
    .meta({ description: 'Changes to the cluster\'s shared endpoints on this server, by name (disable their readers too).' }),
});
export type ServerSettings = z.output<typeof server>;

const factCount = z
  .strictObject({
    name: name().optional().meta({ description: 'The expectation label. Default: the fact name.' }),
    fact: text().meta({ description: 'A fact name that a component reads (facts:).' }),
    values: z
      .array(text())
      .min(1, { error: 'must list at least one value' })
      .meta({ description: 'Values that count, compared trimmed and in any case.' }),
    count: integer(0, 1_000_000, 'a count of servers').optional().meta({ description: 'Exactly this many servers report one of the values, each by its own word, Online or not; or min and/or max.' }),
    min: integer(0, 1_000_000, 'a count of servers').optional().meta({ description: 'At least this many.' }),
    max: integer(0, 1_000_000, 'a count of servers').optional().meta({ description: 'At most this many.' }),
  })
  .check((ctx) => {
    const v = ctx.value;
    const bounds = [v.count, v.min, v.max].filter((b) => b !== undefined).length;
    if (bounds === 0 || (v.count !== undefined && bounds > 1)) {
      ctx.issues.push({ code: 'custom', input: v, message: 'set "count", or "min" and/or "max"' });
    }
    if (v.min !== undefined && v.max !== undefined && v.min > v.max) {
      ctx.issues.push({ code: 'custom', input: v, path: ['max'], message: `must be at least min (${v.min})` });
    }
  });

const expectations = z.strictObject({
  min_servers_online: integer(1, 1_000_000, 'a count of servers')
    .optional()
    .meta({ description: 'At least this many active servers online (SecureTransport\'s Node Threshold); standby servers do not count.' }),
  servers_with_fact: z
    .array(factCount)
    .optional()
    .meta({ description: 'Counts of servers whose up component reports a fact value, Online or not: "exactly one primary".' }),
});

const timing = {
  heartbeat_interval: timerDuration().optional().meta({ description: 'How often every endpoint is probed. Default 15s.' }),
  probe_timeout: timerDuration()
    .optional()
    .meta({ description: 'Deadline of a whole probe, body included; below the heartbeat interval. Default 5s, or four fifths of the heartbeat interval when that is shorter.' }),
  stale_timeout: duration().optional().meta({ description: 'A heartbeat older than this is stale. Default 1m, or four heartbeat intervals when that is longer.' }),
};

/** What a cluster and a preset may both set: a preset file holds these and nothing else. */
const clusterFields = {
  ...timing,
  load_balancing: boolean()
    .optional()
    .meta({ description: 'As configured in the product, copied into this file: the exporter reads it from no server (no documented API of ProGet or SecureTransport publishes it). Shown "as configured", not judged; not set, it is shown as "not set", never as off.' }),
  automatic_failover: boolean()
    .optional()
    .meta({
      description:
        'As configured in the product, copied into this file, like load_balancing: shown "as configured", not judged; not set, it is shown as "not set", never as off. Shown as paused while an up component reports the value automatic_failover_paused at 1 (the patroni preset: maintenance mode).',
    }),
  expected_version: text()
    .optional()
    .meta({ description: 'The version every component should report. Default: the version more than half of the servers report (without one, every server is out of sync: "no majority").' }),
  expectations: expectations.optional().meta({ description: 'Rules on the whole cluster, judged every second, exported and alerted on.' }),
  endpoints: z
    .record(name(), endpoint)
    .optional()
    .meta({ description: 'Requests that several components read, by name: each is made once per server and interval.' }),
  components: z.array(component).min(1, { error: 'must list at least one component' }).meta({ description: 'What every server of the cluster runs.' }),
};

const parameterName = () =>
  text().refine((v) => LABEL_NAME.test(v), { error: (i) => `parameter name "${String(i.input)}" must match [a-zA-Z_][a-zA-Z0-9_]*` });

/** The presets shipped in `presets/`, one file each (`presets/NAME.yml`). */
export const PRESET_NAMES = ['etcd', 'patroni', 'proget', 'securetransport'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** The merge rule, stated once: the loader (`preset.ts`), docs/presets/README.md and the editor schema say the same. */
export const PRESET_MERGE_RULE =
  'The preset is the base and the cluster is merged over it: a mapping (endpoints, an endpoint, expectations) key by key, ' +
  'the cluster\'s value winning; a text, number or list replaced whole; a key given with no value (`key:`) removes the preset\'s. ' +
  'Components merge by name: an entry named like a preset component changes the fields it sets, by the same rule, and ' +
  '`enabled: false` leaves it out; an entry with a new name adds a component if it has "probe" or "endpoint", and is an error if not. ' +
  'The preset\'s cluster-wide timing (heartbeat_interval, probe_timeout, stale_timeout) is a default: the cluster\'s own value wins, then `global`\'s, unless the preset makes it from a parameter the cluster gives (patroni: ttl, loop_wait). ' +
  'A preset component\'s own timing is kept over `global` (it is the product\'s), with a warning; set it on the component to change it.';

const cluster = z
  .strictObject({
    name: name().meta({ description: 'The app_cluster label.' }),
    preset: textEnum(PRESET_NAMES)
      .optional()
      .meta({ description: `A product preset (presets/NAME.yml) that supplies endpoints, components, timing and expectations. ${PRESET_MERGE_RULE}` }),
    parameters: z
      .record(parameterName(), text())
      .optional()
      .meta({ description: 'Values for the preset\'s parameters (its URLs, ports and credentials), by name; see the preset file.' }),
    ...clusterFields,
    components: clusterFields.components.optional().meta({ description: 'What every server of the cluster runs. Required without a preset.' }),
    servers: z.array(server).min(1, { error: 'must list at least one server' }).meta({ description: 'The cluster\'s servers.' }),
  })
  .check((ctx) => {
    if (ctx.value.components === undefined) ctx.issues.push({ code: 'custom', input: ctx.value, message: 'missing required field "components" (or name a "preset")' });
    if (ctx.value.parameters !== undefined && ctx.value.preset === undefined) {
      ctx.issues.push({ code: 'custom', input: ctx.value, path: ['parameters'], message: 'parameters are for a preset; this cluster names none' });
    }
  });
export type ClusterSettings = z.output<typeof cluster>;

const parameter = z.strictObject({
  description: nonEmptyText().meta({ description: 'What the parameter is, shown in errors and docs.' }),
  default: text().optional().meta({ description: 'Its value when the cluster gives none.' }),
  required: boolean().optional().meta({ description: 'true: the cluster must give it.' }),
});

/**
 * A preset file (`presets/NAME.yml`): the cluster's fields without name and servers, plus
 * the parameters its text uses as `{params.NAME}`. Checked with the same building blocks as
 * the configuration.
 */
export const presetSchema = z.strictObject({
  parameters: z
    .record(
      parameterName(),
      parameter.check((ctx) => {
        if (ctx.value.required && ctx.value.default !== undefined) ctx.issues.push({ code: 'custom', input: ctx.value, path: ['default'], message: 'a required parameter has no default' });
      }),
    )
    .optional(),
  ...clusterFields,
});
export type PresetSettings = z.output<typeof presetSchema>;

/** The whole configuration file. */
export const configSchema = z.strictObject({
  global: z
    .strictObject({
      ...timing,
      key_hash_secret_file: nonEmptyText()
        .optional()
        .meta({
          description:
            'File holding the secret of the keyed hash (HMAC) applied to every key and fingerprint read, relative to this file; the same for every replica. Default: a random secret of this process.',
        }),
      key_hash_secret_env: nonEmptyText().optional().meta({ description: 'Environment variable holding that secret; or key_hash_secret_file.' }),
    })
    .optional()
    .meta({ description: 'Defaults for every cluster.' }),
  clusters: z.array(cluster).min(1, { error: 'must list at least one cluster' }).meta({ description: 'The clusters to watch.' }),
});
export type ConfigSettings = z.output<typeof configSchema>;

/** Fields that hold a secret inline: refused with a pointer to the `_file` and `_env` forms. */
export const INLINE_SECRETS = new Set(['password', 'bearer_token', 'key_hash_secret']);

/** Fields of the configuration before `extract` moved onto the component: a hint, not just "unknown". */
export const MOVED_FIELDS: Readonly<Record<string, string>> = {
  extract:
    'the facts a component reads (status, version, key, key_fingerprint, heartbeat, os, values, facts) are fields of the component now, next to "probe"',
};

/**
 * Messages for fields the schema does not know that say more than "unknown field", in a
 * configuration or a preset file (`path` is where the key is).
 */
export function unknownField(key: string, path: readonly PropertyKey[]): string | undefined {
  if (INLINE_SECRETS.has(key)) return `inline secrets are not accepted; use ${key}_file or ${key}_env`;
  if (MOVED_FIELDS[key]) return `unknown field "${key}": ${MOVED_FIELDS[key]}`;
  const sharedEndpoint = path.at(-3) === 'endpoints' && (path.length === 3 || (path.length === 5 && path[0] === 'clusters'));
  if (path.at(-2) === 'probe' || sharedEndpoint) return `unknown probe kind "${key}"; known: ${Object.keys(PROBE_KINDS).join(', ')}`;
  return undefined;
}

/**
 * The configuration's JSON Schema (draft 2020-12), for editors: yaml-language-server reads
 * it through the modeline `# yaml-language-server: $schema=...`. Published as
 * `config.schema.json` (`npm run generate:schema`); a test keeps the two equal.
 */
export function configJsonSchema(): Record<string, unknown> {
  return {
    title: 'appcluster-exporter configuration',
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
  };
}
