import { ApiError, ErrorCodes, utcSeconds } from './http-util.ts';

// The eAccounting API takes OData v4 flavoured `$filter` / `$orderby` (e.g.
// `VoucherDate eq 2026-03-04`, `contains(VoucherText,'abc')`, `year(VoucherDate) eq 2026`).
// An unparsable query is 6000 QueryParameterError; a malformed date literal is 6001 InvalidInput.

export type FieldType = 'string' | 'number' | 'boolean' | 'date' | 'guid';
export type FieldTypes = Record<string, FieldType>;

type Lit = { kind: 'lit'; type: FieldType | 'null'; value: string | number | boolean | null };
type Prop = { kind: 'prop'; name: string; type: FieldType };
type Call = { kind: 'call'; name: string; args: Node[]; type: FieldType };
type Bin = { kind: 'bin'; op: string; left: Node; right: Node; type: 'boolean' };
type Not = { kind: 'not'; expr: Node; type: 'boolean' };
type Node = Lit | Prop | Call | Bin | Not;

type Token = { t: 'punct'; v: '(' | ')' | ',' } | { t: 'str'; v: string } | { t: 'word'; v: string };

const COMPARISONS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const STRING_PREDICATES = new Set(['contains', 'startswith', 'endswith']);
const STRING_TRANSFORMS = new Set(['tolower', 'toupper', 'trim']);
const DATE_PARTS = new Set(['year', 'month', 'day']);

function queryError(message: string): ApiError {
  return new ApiError(400, ErrorCodes.QueryParameterError, message);
}

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ t: 'punct', v: c });
      i++;
    } else if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= input.length) throw queryError('Unterminated string literal in $filter.');
        if (input[i] === "'") {
          if (input[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += input[i];
        i++;
      }
      tokens.push({ t: 'str', v: value });
    } else {
      const m = /^[A-Za-z0-9_./:+-]+/.exec(input.slice(i));
      if (!m) throw queryError(`Syntax error at position ${i} in $filter.`);
      tokens.push({ t: 'word', v: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

function parseDateLiteral(word: string): number | undefined {
  const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(word);
  const dateTime =
    /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/.exec(word);
  const m = date ?? dateTime;
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const probe = new Date(Date.UTC(y, mo - 1, d));
  if (probe.getUTCFullYear() !== y || probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d) {
    return Number.NaN;
  }
  if (date) return probe.getTime();
  const ms = Date.parse(dateTime![7] ? word : `${word}Z`);
  return ms;
}

class Parser {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly fields: FieldTypes,
  ) {}

  parse(): Node {
    const node = this.parseOr();
    if (this.pos < this.tokens.length) throw queryError('Unexpected trailing tokens in $filter.');
    if (node.type !== 'boolean') throw queryError('The $filter expression must evaluate to a boolean.');
    return node;
  }

  private peekWord(): string | undefined {
    const tok = this.tokens[this.pos];
    return tok?.t === 'word' ? tok.v : undefined;
  }

  private expectPunct(v: '(' | ')' | ','): void {
    const tok = this.tokens[this.pos];
    if (tok?.t !== 'punct' || tok.v !== v) throw queryError(`Expected '${v}' in $filter.`);
    this.pos++;
  }

  private parseOr(): Node {
    let left = this.parseAnd();
    while (this.peekWord() === 'or') {
      this.pos++;
      left = this.logical('or', left, this.parseAnd());
    }
    return left;
  }

  private parseAnd(): Node {
    let left = this.parseUnary();
    while (this.peekWord() === 'and') {
      this.pos++;
      left = this.logical('and', left, this.parseUnary());
    }
    return left;
  }

  private logical(op: string, left: Node, right: Node): Node {
    if (left.type !== 'boolean' || right.type !== 'boolean') {
      throw queryError(`The '${op}' operator requires boolean operands.`);
    }
    return { kind: 'bin', op, left, right, type: 'boolean' };
  }

  private parseUnary(): Node {
    if (this.peekWord() === 'not') {
      this.pos++;
      const expr = this.parseUnary();
      if (expr.type !== 'boolean') throw queryError("The 'not' operator requires a boolean operand.");
      return { kind: 'not', expr, type: 'boolean' };
    }
    return this.parseComparison();
  }

  private parseComparison(): Node {
    const left = this.parsePrimary();
    const op = this.peekWord();
    if (op && COMPARISONS.has(op)) {
      this.pos++;
      const right = this.parsePrimary();
      checkComparable(op, left, right);
      return { kind: 'bin', op, left, right, type: 'boolean' };
    }
    return left;
  }

  private parsePrimary(): Node {
    const tok = this.tokens[this.pos];
    if (!tok) throw queryError('Unexpected end of $filter.');
    this.pos++;
    if (tok.t === 'punct') {
      if (tok.v !== '(') throw queryError(`Unexpected '${tok.v}' in $filter.`);
      const inner = this.parseOr();
      this.expectPunct(')');
      return inner;
    }
    if (tok.t === 'str') return { kind: 'lit', type: 'string', value: tok.v };
    const w = tok.v;
    if (w === 'true' || w === 'false') return { kind: 'lit', type: 'boolean', value: w === 'true' };
    if (w === 'null') return { kind: 'lit', type: 'null', value: null };
    if (/^-?\d+(\.\d+)?$/.test(w)) return { kind: 'lit', type: 'number', value: Number(w) };
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(w)) {
      return { kind: 'lit', type: 'guid', value: w.toLowerCase() };
    }
    if (/^\d/.test(w)) {
      const ms = parseDateLiteral(w);
      if (ms === undefined || Number.isNaN(ms)) {
        throw new ApiError(
          400,
          ErrorCodes.InvalidInput,
          `The date '${w}' in $filter is not in a valid format.`,
        );
      }
      return { kind: 'lit', type: 'date', value: ms };
    }
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(w)) {
      const next = this.tokens[this.pos];
      if (next?.t === 'punct' && next.v === '(') {
        this.pos++;
        return this.parseCall(w);
      }
      const type = this.fields[w];
      if (!type) throw queryError(`Could not find a property named '${w}' to filter on.`);
      return { kind: 'prop', name: w, type };
    }
    throw queryError(`Syntax error at '${w}' in $filter.`);
  }

  private parseCall(name: string): Node {
    const args: Node[] = [];
    const close = this.tokens[this.pos];
    if (!(close?.t === 'punct' && close.v === ')')) {
      for (;;) {
        args.push(this.parseOr());
        const tok = this.tokens[this.pos];
        if (tok?.t === 'punct' && tok.v === ',') {
          this.pos++;
          continue;
        }
        break;
      }
    }
    this.expectPunct(')');
    const fn = name.toLowerCase();
    const isString = (n: Node) => n.type === 'string';
    if (STRING_PREDICATES.has(fn)) {
      if (args.length !== 2 || !args.every(isString))
        throw queryError(`${name}() takes two string arguments.`);
      return { kind: 'call', name: fn, args, type: 'boolean' };
    }
    if (STRING_TRANSFORMS.has(fn)) {
      if (args.length !== 1 || !isString(args[0]!)) throw queryError(`${name}() takes one string argument.`);
      return { kind: 'call', name: fn, args, type: 'string' };
    }
    if (fn === 'length') {
      if (args.length !== 1 || !isString(args[0]!)) throw queryError('length() takes one string argument.');
      return { kind: 'call', name: fn, args, type: 'number' };
    }
    if (DATE_PARTS.has(fn)) {
      if (args.length !== 1 || args[0]!.type !== 'date')
        throw queryError(`${name}() takes one date argument.`);
      return { kind: 'call', name: fn, args, type: 'number' };
    }
    throw queryError(`Unknown function '${name}' in $filter.`);
  }
}

function checkComparable(op: string, left: Node, right: Node): void {
  if (left.type === 'null' || right.type === 'null') {
    if (op !== 'eq' && op !== 'ne') throw queryError(`Operator '${op}' cannot be used with null.`);
    return;
  }
  if (left.type !== right.type) {
    throw queryError(
      `A binary operator with incompatible types was detected. Found operand types '${left.type}' and '${right.type}' for operator '${op}'.`,
    );
  }
  if (left.type === 'boolean' && op !== 'eq' && op !== 'ne') {
    throw queryError(`Operator '${op}' cannot be used with boolean operands.`);
  }
}

type Value = string | number | boolean | null;

function toDateMs(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const hasZone = /(Z|[+-]\d{2}:\d{2})$/.test(v);
  const ms = Date.parse(hasZone ? v : `${v}Z`);
  return Number.isNaN(ms) ? null : ms;
}

function evaluate(node: Node, rec: Record<string, unknown>): Value {
  switch (node.kind) {
    case 'lit':
      return node.value;
    case 'prop': {
      const raw = rec[node.name];
      if (raw === undefined || raw === null) return null;
      if (node.type === 'date') return toDateMs(raw);
      if (node.type === 'guid') return String(raw).toLowerCase();
      return raw as Value;
    }
    case 'not':
      return !evaluate(node.expr, rec);
    case 'call': {
      const args = node.args.map((a) => evaluate(a, rec));
      if (args.some((a) => a === null)) return node.type === 'boolean' ? false : null;
      // String matching is case-insensitive, as with the service's database collation.
      const s = args.map((a) => (typeof a === 'string' ? a.toLowerCase() : a));
      switch (node.name) {
        case 'contains':
          return (s[0] as string).includes(s[1] as string);
        case 'startswith':
          return (s[0] as string).startsWith(s[1] as string);
        case 'endswith':
          return (s[0] as string).endsWith(s[1] as string);
        case 'tolower':
          return (args[0] as string).toLowerCase();
        case 'toupper':
          return (args[0] as string).toUpperCase();
        case 'trim':
          return (args[0] as string).trim();
        case 'length':
          return (args[0] as string).length;
        case 'year':
          return new Date(args[0] as number).getUTCFullYear();
        case 'month':
          return new Date(args[0] as number).getUTCMonth() + 1;
        case 'day':
          return new Date(args[0] as number).getUTCDate();
        default:
          return null;
      }
    }
    case 'bin': {
      if (node.op === 'and') return evaluate(node.left, rec) === true && evaluate(node.right, rec) === true;
      if (node.op === 'or') return evaluate(node.left, rec) === true || evaluate(node.right, rec) === true;
      return compare(node.op, evaluate(node.left, rec), evaluate(node.right, rec));
    }
  }
}

function compare(op: string, a: Value, b: Value): boolean {
  if (a === null || b === null) {
    if (op === 'eq') return a === b;
    if (op === 'ne') return a !== b;
    return false;
  }
  const x = typeof a === 'string' ? a.toLowerCase() : a;
  const y = typeof b === 'string' ? b.toLowerCase() : b;
  switch (op) {
    case 'eq':
      return x === y;
    case 'ne':
      return x !== y;
    case 'gt':
      return x > y;
    case 'ge':
      return x >= y;
    case 'lt':
      return x < y;
    case 'le':
      return x <= y;
    default:
      return false;
  }
}

export function compileFilter(filter: string, fields: FieldTypes): (rec: Record<string, unknown>) => boolean {
  const ast = new Parser(tokenize(filter), fields).parse();
  return (rec) => evaluate(ast, rec) === true;
}

export function compileOrderBy(
  orderBy: string,
  fields: FieldTypes,
): (a: Record<string, unknown>, b: Record<string, unknown>) => number {
  const keys = orderBy.split(',').map((part) => {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)(?:\s+(asc|desc))?\s*$/.exec(part);
    if (!m) throw queryError(`Invalid $orderby clause '${part.trim()}'.`);
    const type = fields[m[1]!];
    if (!type) throw queryError(`Could not find a property named '${m[1]}' to order by.`);
    return { name: m[1]!, type, dir: m[2] === 'desc' ? -1 : 1 };
  });
  return (a, b) => {
    for (const k of keys) {
      const va = k.type === 'date' ? toDateMs(a[k.name]) : (a[k.name] as Value);
      const vb = k.type === 'date' ? toDateMs(b[k.name]) : (b[k.name] as Value);
      if (va === vb) continue;
      if (va === null || va === undefined) return -k.dir;
      if (vb === null || vb === undefined) return k.dir;
      return (va < vb ? -1 : 1) * k.dir;
    }
    return 0;
  };
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

function positiveInt(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw queryError(`${name} must be a positive integer.`);
  return Number(raw);
}

/**
 * Applies `$filter`, `$orderby`, `$page` and `$pagesize` and wraps the result in the paging
 * envelope. `$top` and `$skip` are ignored, as the live API does.
 */
export function paginate<T extends object>(
  items: readonly T[],
  params: URLSearchParams,
  fields: FieldTypes,
  nowMs: number,
): { Meta: Record<string, unknown>; Data: T[] } {
  let rows = [...items];
  const filter = params.get('$filter');
  if (filter?.trim()) {
    const pred = compileFilter(filter, fields);
    rows = rows.filter((r) => pred(r as Record<string, unknown>));
  }
  const orderBy = params.get('$orderby');
  if (orderBy?.trim()) {
    const cmp = compileOrderBy(orderBy, fields);
    rows.sort((a, b) => cmp(a as Record<string, unknown>, b as Record<string, unknown>));
  }
  const page = positiveInt(params, '$page') ?? 1;
  const pageSize = Math.min(positiveInt(params, '$pagesize') ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const total = rows.length;
  return {
    Meta: {
      CurrentPage: page,
      PageSize: pageSize,
      TotalNumberOfPages: Math.ceil(total / pageSize),
      TotalNumberOfResults: total,
      ServerTimeUtc: utcSeconds(nowMs),
    },
    Data: rows.slice((page - 1) * pageSize, page * pageSize),
  };
}
