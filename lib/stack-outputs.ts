/**
 * Naming of the stack outputs that tools (the CLI) read to find topics and groups in a deployed
 * stack. Output keys must be alphanumeric, so the real names travel in the description:
 * `fanout:<kind>:<name>:<attribute>` (e.g. `fanout:group:ledger:dlqUrl`).
 */

/** The output key of `what` ("group ledger dlqUrl" → `FanoutGroupLedgerDlqUrl`). */
export function outputKey(what: string): string {
  return `Fanout${what
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('')}`;
}

/** The machine-readable description of an output ("group ledger dlqUrl" → `fanout:group:ledger:dlqUrl`). */
export function outputDescription(what: string): string {
  return `fanout:${what.split(' ').join(':')}`;
}

/** Parses an output description back into kind, name and attribute; `undefined` for other outputs. */
export function parseOutputDescription(description: string | undefined) {
  const match = /^fanout:(topic|group|table):([^:]+):([A-Za-z]+)$/.exec(description ?? '');
  return match ? { kind: match[1], name: match[2], attribute: match[3] } : undefined;
}
