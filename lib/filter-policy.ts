/**
 * SNS subscription filter policies, checked the way SNS checks them when a subscription is created, so an
 * invalid policy fails at synth and at start instead of at deploy. The rules, from the SNS developer guide
 * (subscription-filter-policy-constraints, and-or-logic, string-, numeric- and attribute-key-matching):
 * every key maps to a non-empty array of values or operator objects (or, in `MessageBody` scope only, to a
 * nested object); at most 5 top-level keys; at most 150 value combinations, the product over every array of
 * its length times its nesting depth, the `$or` branches added; at most 256 KB of JSON.
 * Pure: no I/O, safe to import anywhere.
 */

import {
  SNS_FILTER_POLICY_MAX_BYTES,
  SNS_FILTER_POLICY_MAX_COMBINATIONS,
  SNS_FILTER_POLICY_MAX_KEYS,
} from './aws-limits.ts';

/** What a filter policy looks at. */
export type FilterScope = 'MessageAttributes' | 'MessageBody';

const MAX_KEYS = SNS_FILTER_POLICY_MAX_KEYS;
const MAX_COMBINATIONS = SNS_FILTER_POLICY_MAX_COMBINATIONS;
const MAX_BYTES = SNS_FILTER_POLICY_MAX_BYTES;
const COMPARISONS = ['=', '<', '<=', '>', '>='];

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);
const prop = (key: string): string => (/^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key));

/** `[op, n]`, or a range `['>' | '>=', low, '<' | '<=', high]` with low below high. */
function isNumericCondition(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  const [op, n, op2, m] = v;
  if (v.length === 2) return COMPARISONS.includes(op) && isNumber(n);
  return (
    v.length === 4 &&
    ['>', '>='].includes(op) &&
    ['<', '<='].includes(op2) &&
    isNumber(n) &&
    isNumber(m) &&
    n < m
  );
}

function isCidr(v: unknown): boolean {
  const [address, bits, ...rest] = isString(v) ? v.split('/') : [];
  if (address === undefined || !/^\d{1,3}$/.test(bits ?? '') || rest.length > 0) return false;
  if (address.includes(':')) return /^[0-9a-fA-F:.]+$/.test(address) && Number(bits) <= 128;
  const octets = address.split('.');
  return (
    octets.length === 4 && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255) && Number(bits) <= 32
  );
}

/** What each operator takes, and an example of it. */
const OPERATORS: Record<string, [check: (v: unknown) => boolean, takes: string]> = {
  prefix: [isString, 'a string, e.g. { prefix: "Order" }'],
  suffix: [isString, 'a string, e.g. { suffix: "Placed" }'],
  'equals-ignore-case': [isString, 'a string, e.g. { "equals-ignore-case": "orderplaced" }'],
  'anything-but': [
    (v) =>
      isString(v) ||
      isNumber(v) ||
      (Array.isArray(v) && v.length > 0 && v.every((x) => isString(x) || isNumber(x))) ||
      (isObject(v) && Object.keys(v).join() === 'prefix' && isString(v.prefix)),
    'a string, a number, a non-empty list of them or { prefix: "…" }, e.g. { "anything-but": ["OrderCancelled"] }',
  ],
  numeric: [
    isNumericCondition,
    'a comparison (=, <, <=, >, >=) and a number, or a range from low to high, e.g. { numeric: [">=", 100] } or { numeric: [">", 0, "<=", 150] }',
  ],
  exists: [(v) => typeof v === 'boolean', 'true or false, e.g. { exists: true }'],
  cidr: [isCidr, 'an IP range in CIDR notation, e.g. { cidr: "10.0.0.0/24" }'],
};

/** The known operator within two edits of `name`, for a "did you mean". */
function closest(name: string): string | undefined {
  const distance = (a: string, b: string): number => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++)
        next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      row = next;
    }
    return row[b.length];
  };
  return Object.keys(OPERATORS).find((op) => distance(name.toLowerCase(), op) <= 2);
}

/** Why SNS would reject one entry of a key's array, or undefined when it takes it. */
function valueIssue(value: unknown): string | undefined {
  if (isString(value) || isNumber(value) || typeof value === 'boolean' || value === null) return undefined;
  const given = `(given ${show(value)})`;
  if (!isObject(value))
    return `has a value SNS cannot match ${given}; use a string, a number, true, false, null or an operator object like { prefix: "Order" }`;
  const ops = Object.keys(value);
  if (ops.length !== 1)
    return `has an operator object with ${ops.length} operators ${given}; put exactly one operator in each object, e.g. [{ prefix: "a" }, { suffix: "b" }]`;
  const [op] = ops;
  const rule = OPERATORS[op];
  if (!rule) {
    const hint = closest(op);
    return `uses unknown operator '${op}' ${given}; ${hint ? `did you mean '${hint}'? ` : ''}SNS operators: ${Object.keys(OPERATORS).join(', ')}`;
  }
  return rule[0](value[op]) ? undefined : `has operator '${op}', which takes ${rule[1]} ${given}`;
}

/**
 * Every way `policy` breaks the SNS filter policy rules, one line each, starting with `where`
 * (e.g. `group 'audit'`) and naming the key, the value and the fix. Empty when SNS would accept it.
 */
export function filterPolicyIssues(
  policy: Readonly<Record<string, unknown>>,
  scope: FilterScope,
  where: string,
): string[] {
  const issues: string[] = [];
  const counted: string[] = [];
  const combinations = (node: Readonly<Record<string, unknown>>, path: string, depth: number): number => {
    let product = 1;
    for (const [key, value] of Object.entries(node)) {
      const at = `${where}: filter key '${path}${key}'`;
      if (key === '$or') {
        if (
          Array.isArray(value) &&
          value.length >= 2 &&
          value.every((b) => isObject(b) && Object.keys(b).length)
        )
          product *= value.reduce(
            (sum: number, b, i) => sum + combinations(b, `${path}$or[${i}].`, depth),
            0,
          );
        else
          issues.push(
            `${at} must list at least 2 non-empty policies (given ${show(value)}); e.g. $or: [{ type: ["OrderPlaced"] }, { source: ["shop"] }]`,
          );
      } else if (isObject(value) && scope === 'MessageBody' && Object.keys(value).length > 0) {
        product *= combinations(value, `${path}${key}.`, depth + 1);
      } else if (isObject(value)) {
        issues.push(
          scope === 'MessageBody'
            ? `${at} is an empty object (given {}); nest keys with arrays in it, or remove it`
            : `${at} is a nested object (given ${show(value)}); message attributes take an array of values, nesting needs filterScope: 'MessageBody'`,
        );
      } else if (!Array.isArray(value)) {
        issues.push(
          `${at} must be an array of values (given ${show(value)}); write ${prop(key)}: [${isObject(value) || value === undefined ? '"…"' : show(value)}]`,
        );
      } else if (value.length === 0) {
        issues.push(
          `${at} must list at least one value (given []); add a value, or remove the key to match any`,
        );
      } else {
        for (const entry of value) {
          const problem = valueIssue(entry);
          if (problem) issues.push(`${at} ${problem}`);
        }
        product *= value.length * depth;
        counted.push(`${path}${key} ×${value.length * depth}`);
      }
    }
    return product;
  };

  const keys = Object.keys(policy);
  if (keys.length > MAX_KEYS)
    issues.push(
      `${where}: filter must have at most ${MAX_KEYS} keys (given ${keys.length}: ${keys.join(', ')}); drop some and check them in the handler`,
    );
  const total = combinations(policy, '', 1);
  if (total > MAX_COMBINATIONS)
    issues.push(
      `${where}: filter must have at most ${MAX_COMBINATIONS} value combinations (given ${total} from ${counted.join(', ')}); list fewer values, or match them with prefix or anything-but`,
    );
  const bytes = new TextEncoder().encode(show(policy)).length;
  if (bytes > MAX_BYTES)
    issues.push(
      `${where}: filter must be at most 256 KB of JSON (given ${Math.ceil(bytes / 1024)} KB); list fewer values`,
    );
  return issues;
}
