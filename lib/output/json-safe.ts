// What JSON.stringify can take: a bigint becomes a number when a double holds it exactly, else
// its decimal digits as a string (JSON.rawJSON, which would keep it a number, is not in Node 20).
export function jsonSafe(value: unknown): unknown {
  switch (typeof value) {
    case 'bigint':
      return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) return value.map(jsonSafe);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v);
      return out;
    }
    default:
      return value;
  }
}
