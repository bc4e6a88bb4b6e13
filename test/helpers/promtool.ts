/**
 * Prometheus's own rule and exposition checker (Debian `prometheus` ships
 * `promtool`; `.ci/run` installs it): the independent oracle for the alert
 * rules in deploy/ and for the text the gateway's /metrics serves.
 */
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** Where Debian installs the binary. */
export const PROMTOOL_BIN = '/usr/bin/promtool';
/** The operator's alert rules. */
export const ALERT_RULES = fileURLToPath(
  new URL('../../deploy/prometheus-alerts.yml', import.meta.url),
);
/** The promtool unit tests of {@link ALERT_RULES}. */
export const ALERT_RULE_TESTS = fileURLToPath(
  new URL('../../deploy/prometheus-alerts.test.yml', import.meta.url),
);

/** True when promtool is installed. */
export function havePromtool(): boolean {
  return existsSync(PROMTOOL_BIN) && spawnSync(PROMTOOL_BIN, ['--version']).status === 0;
}

/** Runs promtool with `args` (and `input` on stdin); its exit code and output. */
export function promtool(
  args: string[],
  input?: string,
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(PROMTOOL_BIN, args, { input, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Every gateway metric name the alert rules' expressions use, sorted. */
export function alertRuleMetricNames(): string[] {
  const doc = parse(readFileSync(ALERT_RULES, 'utf8')) as {
    groups: Array<{ rules: Array<{ expr: string }> }>;
  };
  const names = new Set<string>();
  for (const g of doc.groups)
    for (const r of g.rules) for (const m of r.expr.matchAll(/mtls_gateway_\w+/g)) names.add(m[0]);
  return [...names].sort();
}
