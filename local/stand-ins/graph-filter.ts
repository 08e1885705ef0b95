import { parse } from '@balena/odata-parser';
import type { SeedUser } from './seed';
import { userProperty, userPropertyTypes, type UserPropertyType } from './user-schema';

/**
 * $filter on the Graph stand-in's user listings. The expression is read by @balena/odata-parser
 * (an OData v4 URL grammar, generated with peggy) and evaluated against the stand-in's users as
 * Graph's directory does it:
 *
 * - `eq`, `ne`, `in (…)`, `startswith(p,'x')`, `endswith(p,'x')`, `and`, `or`, `not`, parentheses;
 *   literals: strings ('' escapes a quote), true, false, null, numbers. A clause compares a
 *   property (left) with a literal (right); string comparisons ignore case, as the directory's do.
 * - Names ignore case too (Graph takes `startsWith`, `NOT`, `OR`, `DisplayName`): the parser knows
 *   only lowercase operators and functions, so the text outside string literals is lowercased before
 *   it is parsed, and properties are looked up case-insensitively.
 * - `and` binds tighter than `or` in Graph; the parser gives both the same precedence, so a filter
 *   where they would differ (`a or b and c`) is refused, asking for parentheses (see andAfterOr).
 * - `ne`, `not` and `endswith` are advanced queries (the caller checks ConsistencyLevel and $count:
 *   see `advancedProperty`); `endswith` works on mail and userPrincipalName only.
 * - Graph documents a limit of 15 clauses in an expression with OR operators. The stand-in models it
 *   as: an `or` (however nested in other `or`s) counts each of its clauses, and each value of an
 *   `in` list is a clause of its own; more than 15 in one `or`, or in one `in`, is refused.
 * - Refused with Graph's codes: a syntax error (400 BadRequest "Invalid filter clause: …"), an
 *   unknown property (400 Request_BadRequest), operand types that do not match (400 BadRequest),
 *   and whatever the parser reads but the stand-in does not implement (other functions such as
 *   contains, any/all lambdas, arithmetic, gt/lt (ge/le on strings only), parameter aliases, date literals, a
 *   literal on the left): 400 Request_UnsupportedQuery.
 */

/** Graph's answer to a request it refuses; the stand-in sends it as Graph's error body. */
export class GraphQueryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'GraphQueryError';
  }
}

/** Graph's limit on the clauses of an expression with OR operators (see the comment above). */
export const maxOrClauses = 15;
/** Graph's limit on the `id eq` clauses of a users delta filter. */
export const maxDeltaIdClauses = 50;

export interface UserFilter {
  /** The filter as received. */
  readonly text: string;
  /** The property of the first clause that needs advanced query parameters (ne, not, endswith); undefined when none does. */
  readonly advancedProperty: string | undefined;
  matches(user: SeedUser): boolean;
}

/** The 400 Graph gives a clause it does not support here (or not without advanced query parameters). */
export function unsupportedClause(property: string): GraphQueryError {
  return new GraphQueryError(
    400,
    'Request_UnsupportedQuery',
    `Unsupported or invalid query filter clause specified for property '${property}' of resource 'User'.`,
  );
}

/**
 * How the stand-in answers `ge`/`le` on userPrincipalName, which Microsoft's pages disagree on
 * (resources/user.md lists them; concepts/aad-advanced-queries.md's generated table leaves the
 * cell blank, "not valid"): `honoured` (the default) compares as below; `refused` answers as
 * Graph answers a clause it does not support, 400 Request_UnsupportedQuery "Unsupported or invalid
 * query filter clause specified for property 'userPrincipalName' of resource 'User'."
 * (aad-advanced-queries.md, "Error handling"); `ignored` takes the clause for true, as "query
 * parameters specified in a request might fail silently" (same page): every range then lists
 * every user, and its @odata.count counts them all.
 */
export type PrincipalNameRanges = 'honoured' | 'refused' | 'ignored';

export function compileUserFilter(text: string, principalNameRanges: PrincipalNameRanges = 'honoured'): UserFilter {
  const parsed = parseFilter(text);
  const compiler = new Compiler(parsed, principalNameRanges);
  const matches = compiler.clause(parsed.tree);
  return { text, advancedProperty: compiler.advancedProperty, matches };
}

/**
 * A users delta $filter: Graph takes only `id eq '…'` clauses joined by `or`, at most 50 of them
 * (400 Request_UnsupportedQuery otherwise). Returns the ids, lowercased.
 */
export function deltaIdFilter(text: string): ReadonlySet<string> {
  const parsed = parseFilter(text);
  const refused = (): GraphQueryError =>
    new GraphQueryError(
      400,
      'Request_UnsupportedQuery',
      `Unsupported query filter for users delta: only id eq '<id>' clauses joined by or, at most ${maxDeltaIdClauses}, are supported.`,
    );
  const clauses: unknown[] = [];
  const flatten = (node: unknown): void => {
    if (isOperation(node) && node[0] === 'or') node.slice(1).forEach(flatten);
    else clauses.push(node);
  };
  flatten(parsed.tree);
  if (clauses.length > maxDeltaIdClauses) throw refused();
  const ids = new Set<string>();
  for (const clause of clauses) {
    if (
      !isOperation(clause) ||
      clause[0] !== 'eq' ||
      clause.length !== 3 ||
      !isPropertyReference(clause[1]) ||
      Object.keys(clause[1]).length !== 1 ||
      clause[1].name !== 'id'
    )
      throw refused();
    const value = literal(parsed, clause[2]);
    if (value?.type !== 'string') throw refused();
    ids.add(value.value.toLowerCase());
  }
  return ids;
}

type Predicate = (user: SeedUser) => boolean;
type Literal = { type: 'string'; value: string } | { type: 'boolean'; value: boolean } | { type: 'number'; value: number } | { type: 'null' };
type Operation = [string, ...unknown[]];

interface PropertyReference {
  name: string;
  [other: string]: unknown;
}

interface Parsed {
  /** The text as received (trimmed), for messages. */
  text: string;
  tree: unknown;
  binds: unknown[];
}

function isOperation(node: unknown): node is Operation {
  return Array.isArray(node) && typeof node[0] === 'string';
}

function isPropertyReference(node: unknown): node is PropertyReference {
  return typeof node === 'object' && node !== null && !Array.isArray(node) && typeof (node as { name?: unknown }).name === 'string';
}

function parseFilter(received: string): Parsed {
  const text = received.trim();
  // Operators and functions in any case: lowercase everything outside the string literals (which
  // alternate with the rest when split on quotes; an escaped quote '' leaves an empty piece between).
  const folded = text
    .split("'")
    .map((piece, i) => (i % 2 === 0 ? piece.toLowerCase() : piece))
    .join("'");
  // The parser reads URL text, where % starts an escape and + is a space: the decoded filter's own % and + are escaped for it.
  const forParser = folded.replace(/[%+]/g, (c) => encodeURIComponent(c));
  let result: { tree: unknown; binds: unknown[] };
  try {
    result = parse(forParser, { startRule: 'ProcessRule', rule: 'FilterByExpression' });
  } catch (error) {
    const location = (error as { location?: { start?: { offset?: unknown } } }).location?.start?.offset;
    throw syntaxError(text, typeof location === 'number' ? positionIn(text, location) : 0);
  }
  if (text === '') throw syntaxError(text, 0); // the parser takes an empty filter (as no filter)
  if (andAfterOr(folded)) {
    throw new GraphQueryError(
      400,
      'Request_UnsupportedQuery',
      "Unsupported query: 'and' after 'or' without parentheses. Graph reads 'and' first (a or b and c is a or (b and c)); the stand-in's OData parser reads them left to right, so it refuses this: add the parentheses.",
    );
  }
  return { text, ...result };
}

function syntaxError(text: string, position: number): GraphQueryError {
  return new GraphQueryError(400, 'BadRequest', `Invalid filter clause: Syntax error at position ${position} in '${text}'.`);
}

/**
 * Whether an `and` follows an `or` at one level of parentheses (outside string literals).
 * @balena/odata-parser gives `and` and `or` the same precedence, left to right (as its OData v2
 * roots did), where OData v4 and Graph read `and` first; the two readings differ exactly in this
 * case (`a or b and c`: (a or b) and c to the parser, a or (b and c) to Graph), and the parser's
 * tree does not show whether the `or` was in parentheses, so such a filter is refused instead.
 */
function andAfterOr(folded: string): boolean {
  const orAtLevel = [false];
  const outside = folded
    .split("'")
    .filter((_, i) => i % 2 === 0)
    .join(' ');
  for (const [token] of outside.matchAll(/[()]|\b(?:and|or)\b/g)) {
    if (token === '(') orAtLevel.push(false);
    else if (token === ')') orAtLevel.pop();
    else if (token === 'or') orAtLevel[orAtLevel.length - 1] = true;
    else if (orAtLevel.at(-1) === true) return true;
  }
  return false;
}

/** Where `offset` of the text given to the parser falls in the text received (each % and + took three characters there). */
function positionIn(text: string, offset: number): number {
  let escaped = 0;
  for (let i = 0; i < text.length; i++) {
    if (escaped >= offset) return i;
    escaped += text[i] === '%' || text[i] === '+' ? 3 : 1;
  }
  return text.length;
}

/** A literal operand; undefined when the node is not one the stand-in takes (a date, an alias, a property, an expression). */
function literal(parsed: Parsed, node: unknown): Literal | undefined {
  if (node === null) return { type: 'null' };
  if (typeof node !== 'object' || Array.isArray(node) || typeof (node as { bind?: unknown }).bind !== 'number') return undefined;
  return bound(parsed.binds[(node as { bind: number }).bind]);
}

function bound(bind: unknown): Literal | undefined {
  if (!Array.isArray(bind)) return undefined;
  const [type, value] = bind as [unknown, unknown];
  if (type === 'Text' && typeof value === 'string') return { type: 'string', value };
  if (type === 'Boolean' && typeof value === 'boolean') return { type: 'boolean', value };
  if ((type === 'Real' || type === 'Integer') && typeof value === 'number') return { type: 'number', value };
  if (type === 'Null') return { type: 'null' };
  return undefined;
}

const canonicalNames = new Map(Object.keys(userPropertyTypes).map((name) => [name.toLowerCase(), name]));
const edmTypes: Record<UserPropertyType, string> = {
  string: 'Edm.String',
  boolean: 'Edm.Boolean',
  dateTime: 'Edm.DateTimeOffset',
  collection: 'Collection(Edm.String)',
};
const fold = (text: string): string => text.toLowerCase();

function edmType(value: Literal): string {
  switch (value.type) {
    case 'string':
      return 'Edm.String';
    case 'boolean':
      return 'Edm.Boolean';
    case 'number':
      return !Number.isInteger(value.value) ? 'Edm.Double' : Math.abs(value.value) < 2 ** 31 ? 'Edm.Int32' : 'Edm.Int64';
    case 'null':
      return 'null';
  }
}

function unsupported(what: string): GraphQueryError {
  return new GraphQueryError(400, 'Request_UnsupportedQuery', `Unsupported query: ${what} is not supported in a filter on users here.`);
}

class Compiler {
  advancedProperty: string | undefined;

  constructor(
    private readonly parsed: Parsed,
    private readonly principalNameRanges: PrincipalNameRanges,
  ) {}

  clause(node: unknown): Predicate {
    if (isPropertyReference(node)) throw unsupportedClause(this.property(node).name);
    if (!isOperation(node)) throw unsupported('a literal as a clause');
    const [operator, ...args] = node;
    switch (operator) {
      case 'and': {
        const all = args.map((a) => this.clause(a));
        return (user) => all.every((p) => p(user));
      }
      case 'or': {
        this.#checkOrClauses(node);
        const any = args.map((a) => this.clause(a));
        return (user) => any.some((p) => p(user));
      }
      case 'not': {
        const inner = this.clause(args[0]);
        this.#advanced(this.#firstProperty(args[0]));
        return (user) => !inner(user);
      }
      case 'eq':
      case 'ne': {
        if (args.length !== 2) throw unsupported(`a chained '${operator}'`);
        const { name, type } = this.#operand(args[0], operator);
        const value = this.#literal(args[1], operator);
        this.#checkTypes(name, type, value, operator === 'eq' ? 'Equal' : 'NotEqual');
        if (operator === 'ne') this.#advanced(name);
        const equal = equals(name, value);
        return operator === 'eq' ? equal : (user) => !equal(user);
      }
      case 'eqany': {
        const { name, type } = this.#operand(args[0], 'in');
        const list = (this.parsed.binds[(args[1] as { bind: number }).bind] as [string, unknown[]])[1];
        if (list.length > maxOrClauses) throw tooManyClauses(list.length);
        const tests = list.map((bind) => {
          const value = bound(bind);
          if (value === undefined) throw unsupported(`a value of that type in the list of 'in' on '${name}'`);
          this.#checkTypes(name, type, value, 'Equal');
          return equals(name, value);
        });
        return (user) => tests.some((t) => t(user));
      }
      case 'call':
        return this.#call(args[0] as { method: string; args: unknown[] });
      case 'ge':
      case 'le': {
        // On strings, as Graph's user properties support them (userPrincipalName, displayName, mail…):
        // an ordinal comparison of the case-folded values, served here as an advanced query only.
        if (args.length !== 2) throw unsupported(`a chained '${operator}'`);
        const { name, type } = this.#operand(args[0], operator);
        const value = this.#literal(args[1], operator);
        if (type !== 'string' || value.type !== 'string') throw unsupportedClause(name);
        this.#advanced(name);
        if (name === 'userPrincipalName' && this.principalNameRanges === 'refused') throw unsupportedClause(name);
        if (name === 'userPrincipalName' && this.principalNameRanges === 'ignored') return () => true;
        const bound = fold(value.value);
        return (user) => {
          const v = userProperty(user, name);
          if (typeof v !== 'string') return false;
          const folded = fold(v);
          return operator === 'ge' ? folded >= bound : folded <= bound;
        };
      }
      case 'gt':
      case 'lt':
        throw unsupportedClause(isPropertyReference(args[0]) ? this.property(args[0]).name : operator);
      default:
        throw unsupported(`the operator '${operator}'`);
    }
  }

  /** A property the filter names, checked: a known one of the user, not a path, lambda or count. */
  property(node: PropertyReference): { name: string; type: UserPropertyType } {
    // The parser takes an unterminated string ('abc) for a property name; OData names have no quotes.
    if (!/^[a-z_][a-z0-9_]*$/i.test(node.name)) throw syntaxError(this.parsed.text, Math.max(0, this.parsed.text.toLowerCase().indexOf(node.name)));
    const name = canonicalNames.get(node.name);
    if (name === undefined)
      throw new GraphQueryError(400, 'Request_BadRequest', `Could not find a property named '${this.#spelled(node.name)}' on type 'microsoft.graph.user'.`);
    if (node['lambda'] !== undefined) throw unsupported(`the lambda operator on '${name}'`);
    if (Object.keys(node).length !== 1) throw unsupported(`a path or count on '${name}'`);
    return { name, type: userPropertyTypes[name] ?? 'string' };
  }

  #call({ method, args }: { method: string; args: unknown[] }): Predicate {
    if (method !== 'startswith' && method !== 'endswith') throw unsupported(`the function '${method}'`);
    const { name, type } = this.#operand(args[0], method);
    const value = this.#literal(args[1], method);
    if (type !== 'string' || value.type !== 'string') {
      throw new GraphQueryError(
        400,
        'BadRequest',
        `No function signature for the function with name '${method}' matches the specified arguments. The function signatures considered are: ${method}(Edm.String Nullable=true, Edm.String Nullable=true).`,
      );
    }
    if (method === 'endswith') {
      this.#advanced(name);
      // Graph supports endsWith on mail, otherMails, userPrincipalName and proxyAddresses; the two collections need any().
      if (name !== 'mail' && name !== 'userPrincipalName') throw unsupportedClause(name);
    }
    const prefix = fold(value.value);
    return method === 'startswith'
      ? (user) => {
          const v = userProperty(user, name);
          return typeof v === 'string' && fold(v).startsWith(prefix);
        }
      : (user) => {
          const v = userProperty(user, name);
          return typeof v === 'string' && fold(v).endsWith(prefix);
        };
  }

  /** The left operand of a comparison: a property; a collection cannot be compared so. */
  #operand(node: unknown, operator: string): { name: string; type: UserPropertyType } {
    if (!isPropertyReference(node)) throw unsupported(`'${operator}' without a property on its left`);
    const property = this.property(node);
    if (property.type === 'collection') throw unsupportedClause(property.name);
    return property;
  }

  #literal(node: unknown, operator: string): Literal {
    if (isPropertyReference(node)) this.property(node); // a syntax error or an unknown property first, as Graph
    const value = literal(this.parsed, node);
    if (value === undefined) throw unsupported(`'${operator}' with something other than a string, boolean, number or null on its right`);
    return value;
  }

  #checkTypes(name: string, type: UserPropertyType, value: Literal, kind: string): void {
    if (value.type === 'null') return;
    const fits = (type === 'string' && value.type === 'string') || (type === 'boolean' && value.type === 'boolean');
    if (fits) return;
    if (type === 'dateTime' && value.type === 'string') throw unsupportedClause(name);
    throw new GraphQueryError(
      400,
      'BadRequest',
      `A binary operator with incompatible types was detected. Found operand types '${edmTypes[type]}' and '${edmType(value)}' for operator kind '${kind}'.`,
    );
  }

  #checkOrClauses(node: Operation): void {
    const count = (n: unknown): number => {
      if (!isOperation(n)) return 1;
      if (n[0] === 'or') return n.slice(1).reduce((sum: number, child) => sum + count(child), 0);
      if (n[0] === 'eqany') {
        const list = (this.parsed.binds[(n[2] as { bind: number }).bind] as [string, unknown[]])[1];
        return list.length;
      }
      return 1;
    };
    const clauses = count(node);
    if (clauses > maxOrClauses) throw tooManyClauses(clauses);
  }

  #advanced(property: string): void {
    this.advancedProperty ??= property;
  }

  #firstProperty(node: unknown): string {
    if (isPropertyReference(node)) return canonicalNames.get(node.name) ?? node.name;
    if (isOperation(node)) {
      for (const arg of node.slice(1)) {
        const found = this.#firstProperty(arg);
        if (found !== '') return found;
      }
    } else if (typeof node === 'object' && node !== null && Array.isArray((node as { args?: unknown }).args)) {
      return this.#firstProperty(['call', ...(node as { args: unknown[] }).args]);
    }
    return '';
  }

  /** The property as the filter spelled it (the parser saw it lowercased). */
  #spelled(lowered: string): string {
    const outside = this.parsed.text
      .split("'")
      .filter((_, i) => i % 2 === 0)
      .join("''");
    const pattern = new RegExp(`(?<![\\w.])${lowered.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w.])`, 'i');
    return pattern.exec(outside)?.[0] ?? lowered;
  }
}

function equals(name: string, value: Literal): Predicate {
  switch (value.type) {
    case 'null':
      return (user) => {
        const v = userProperty(user, name);
        return v === null || v === undefined;
      };
    case 'string': {
      const wanted = fold(value.value);
      return (user) => {
        const v = userProperty(user, name);
        return typeof v === 'string' && fold(v) === wanted;
      };
    }
    default:
      return (user) => userProperty(user, name) === value.value;
  }
}

function tooManyClauses(count: number): GraphQueryError {
  return new GraphQueryError(
    400,
    'Request_UnsupportedQuery',
    `Too many child clauses specified in search filter expression containing 'OR' operators: ${count}. Max allowed: ${maxOrClauses}.`,
  );
}
