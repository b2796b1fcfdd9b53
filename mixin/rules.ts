/**
 * The Prometheus rule files, built from the definitions (mixin/alerts.ts, mixin/records.ts)
 * and a configuration (mixin/config.ts).
 */
import { Document, isMap, isScalar, isSeq, Scalar, type YAMLMap } from 'yaml';
import { ALERT_NAMES, ALERTS, type AlertDefinition } from './alerts.js';
import type { MixinConfig } from './config.js';
import { RECORDS } from './records.js';

/** A rule as Prometheus reads it. */
export interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly keep_firing_for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

/** A rule group as Prometheus reads it. */
export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly Rule[];
}

/**
 * Adds the exporter's selector to every series of `text` the exporter reports (names with the
 * `appcluster_` prefix, and `up{}`); recorded series (`appcluster:`) are left as they are.
 */
export function withSelector(text: string, selector: string): string {
  return text
    .replace(/\b(appcluster_[a-z0-9_]+)\b(\{?)/g, (_, name: string, brace: string) => (brace ? `${name}{${selector}, ` : `${name}{${selector}}`))
    .replace(/\bup\{\}/g, `up{${selector}}`);
}

/** The recording rules, one group. */
export function recordingGroups(config: MixinConfig): RuleGroup[] {
  return [{ name: 'appcluster.rules', rules: RECORDS.map((r) => ({ record: r.record, expr: withSelector(r.expr, config.selector) })) }];
}

function alertRule(name: string, def: AlertDefinition, config: MixinConfig): Rule {
  const settings = config.alerts[name as keyof typeof config.alerts];
  const annotations: Record<string, string> = {
    summary: def.summary,
    description: withSelector(def.description, config.selector),
  };
  for (const [key, value] of Object.entries(def.annotations ?? {})) annotations[key] = withSelector(value, config.selector);
  const alert = def.alertname ?? name;
  annotations['runbook_url'] = config.runbook_url_pattern.replace('%s', alert.toLowerCase());
  return {
    alert,
    expr: withSelector(typeof def.expr === 'function' ? def.expr(config) : def.expr, config.selector),
    ...(settings.for === undefined ? {} : { for: settings.for }),
    ...(def.holdsThroughMissedScrapes ? { keep_firing_for: config.keep_firing_for } : {}),
    labels: { severity: settings.severity, ...def.labels },
    annotations,
  };
}

/** The alerting rules, in their groups, in the order of mixin/alerts.ts. */
export function alertGroups(config: MixinConfig): RuleGroup[] {
  const groups = new Map<string, Rule[]>();
  for (const name of ALERT_NAMES) {
    const def: AlertDefinition = ALERTS[name];
    const rules = groups.get(def.group) ?? [];
    rules.push(alertRule(name, def, config));
    groups.set(def.group, rules);
  }
  return [...groups].map(([name, rules]) => ({ name, rules }));
}

/** Comments written above rules in the files, by alert name (one per name: above its first rule). */
function ruleComments(): Map<string, string> {
  return new Map(ALERT_NAMES.flatMap((name) => {
    const def: AlertDefinition = ALERTS[name];
    return def.comment ? [[def.alertname ?? name, def.comment]] : [];
  }));
}

/** A comment's text in lines of at most 88 characters, each after a space. */
function wrap(text: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > 88) {
      lines.push(line);
      line = '';
    }
    line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.map((l) => ` ${l}`).join('\n');
}

/** YAML text of rule groups under a header comment; each alert's `comment` above it. */
export function rulesYaml(header: string, groups: readonly RuleGroup[]): string {
  const doc = new Document({ groups });
  doc.commentBefore = header;
  const comments = ruleComments();
  const groupSeq = doc.get('groups', true);
  if (isSeq(groupSeq)) {
    for (const group of groupSeq.items) {
      if (!isMap(group)) continue;
      const rules = group.get('rules', true);
      if (!isSeq(rules)) continue;
      for (const rule of rules.items as YAMLMap[]) {
        const comment = comments.get(String(rule.get('alert')));
        if (comment) rule.commentBefore = wrap(comment);
        comments.delete(String(rule.get('alert')));
        // Templates read best folded, as hand-written rule files have them.
        const annotations = rule.get('annotations', true);
        if (!isMap(annotations)) continue;
        for (const pair of annotations.items) {
          if (isScalar(pair.value) && String(pair.value.value).includes('{{')) pair.value.type = Scalar.BLOCK_FOLDED;
        }
      }
    }
  }
  return doc.toString({ lineWidth: 100, minContentWidth: 40 });
}
