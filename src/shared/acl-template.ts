import { createHash } from 'node:crypto';

/**
 * Path templates of SyftBox permission rules, as the server evaluates them
 * (`internal/server/acl/matcher.go`): a rule pattern containing `{{` and `}}`
 * is a Go text/template executed per request with
 *
 *   .UserEmail  the requesting user ('*' for the public pseudo-user)
 *   .UserHash   first 8 bytes of sha256(.UserEmail), 16 hex characters
 *   .Year .Month .Date   the server's UTC date: "2026", "03", "07"
 *
 * and the functions `sha2 s [n]` (hex sha256, first n characters, n from 1 to
 * 64, 0 meaning 16), `upper s`, `lower s`. The result is then matched like any
 * pattern (a glob when it has `*`, `?` or `[`). Example: `{{.UserEmail}}/**`
 * read: [USER] lets each user read only their own folder.
 *
 * Go's template language is larger than this. This module evaluates actions
 * made of fields, those three functions, integer and string literals, and
 * pipes (`{{.UserEmail | lower | sha2 8}}` passes the value as the last
 * argument), with `{{-`/`-}}` trimming. It reports a template as
 * - 'invalid' when the server could not parse it either (an unknown function,
 *   an unclosed action): the server drops that rule;
 * - 'unsupported' when it uses more of Go's language (if, with, range,
 *   variables, builtins such as printf): valid for the server, but not
 *   evaluated here, so an audit must say it could not check the rule.
 * Executing can fail as in Go (a wrong argument type, an unknown field): the
 * rule then matches nothing for that request.
 */

export interface TemplateData {
  UserEmail: string;
  UserHash: string;
  Year: string;
  Month: string;
  Date: string;
}

export type CompiledTemplate =
  | { kind: 'ok'; execute: (data: TemplateData) => string | null }
  | { kind: 'invalid'; reason: string }
  | { kind: 'unsupported'; reason: string };

const FIELDS = new Set<string>(['UserEmail', 'UserHash', 'Year', 'Month', 'Date']);
const FUNCTIONS = new Set(['sha2', 'upper', 'lower']);
/** Go text/template keywords and builtin functions: valid there, not evaluated here. */
const GO_ONLY = new Set([
  'if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue', 'nil', 'true', 'false',
  'and', 'or', 'not', 'call', 'html', 'index', 'slice', 'js', 'len', 'print', 'printf', 'println', 'urlquery',
  'eq', 'ne', 'lt', 'le', 'gt', 'ge',
]);
const SHA2_DEFAULT_LENGTH = 16;
const SHA2_MAX_LENGTH = 64;
const UINT8_MAX = 255;
const USER_HASH_BYTES = 8;

type Operand = { type: 'field'; name: string } | { type: 'func'; name: string } | { type: 'int'; value: number } | { type: 'string'; value: string };
type Command = Operand[];
type Piece = { type: 'text'; text: string } | { type: 'action'; pipeline: Command[] };
type Value = { type: 'string'; value: string } | { type: 'int'; value: number };

class Unsupported extends Error {}
class Invalid extends Error {}

/** Template data for `user` at `now` (UTC), as the server builds it per request. */
export function templateData(user: string, now: Date): TemplateData {
  return {
    UserEmail: user,
    UserHash: createHash('sha256').update(user).digest().subarray(0, USER_HASH_BYTES).toString('hex'),
    Year: String(now.getUTCFullYear()).padStart(4, '0'),
    Month: String(now.getUTCMonth() + 1).padStart(2, '0'),
    Date: String(now.getUTCDate()).padStart(2, '0'),
  };
}

/** True when the server treats `pattern` as a template (it holds both `{{` and `}}`). */
export function isTemplate(pattern: string): boolean {
  return pattern.includes('{{') && pattern.includes('}}');
}

/** Parse a template once; execute it per request. */
export function compileTemplate(text: string): CompiledTemplate {
  let pieces: Piece[];
  try {
    pieces = parse(text);
  } catch (err) {
    if (err instanceof Unsupported) return { kind: 'unsupported', reason: err.message };
    if (err instanceof Invalid) return { kind: 'invalid', reason: err.message };
    throw err;
  }
  return {
    kind: 'ok',
    execute: (data) => {
      let out = '';
      for (const piece of pieces) {
        if (piece.type === 'text') {
          out += piece.text;
          continue;
        }
        const value = run(piece.pipeline, data);
        if (value === null) return null;
        out += value.type === 'string' ? value.value : String(value.value);
      }
      return out;
    },
  };
}

function parse(text: string): Piece[] {
  const pieces: Piece[] = [];
  let rest = text;
  let trimNextText = false;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    let literal = open === -1 ? rest : rest.slice(0, open);
    if (trimNextText) literal = literal.trimStart();
    if (open === -1) {
      if (literal) pieces.push({ type: 'text', text: literal });
      break;
    }
    let body = rest.slice(open + 2);
    if (/^-[ \t\r\n]/.test(body)) {
      literal = literal.trimEnd();
      body = body.slice(1);
    }
    if (literal) pieces.push({ type: 'text', text: literal });
    const close = body.indexOf('}}');
    if (close === -1) throw new Invalid('unclosed action');
    let inside = body.slice(0, close);
    trimNextText = /[ \t\r\n]-$/.test(inside);
    if (trimNextText) inside = inside.slice(0, -1);
    pieces.push({ type: 'action', pipeline: parsePipeline(inside) });
    rest = body.slice(close + 2);
  }
  return pieces;
}

const TOKEN_RE = /\s*(?:(\.[A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*)|(-?\d[\w.]*)|("(?:[^"\\]|\\.)*")|(\|))/y;

function parsePipeline(source: string): Command[] {
  if (/^\s*\/\*/.test(source)) throw new Unsupported('a comment');
  const commands: Command[] = [[]];
  TOKEN_RE.lastIndex = 0;
  let at = 0;
  while (at < source.length) {
    if (/^\s*$/.test(source.slice(at))) break;
    TOKEN_RE.lastIndex = at;
    const token = TOKEN_RE.exec(source);
    if (token === null) throw new Unsupported(`"${source.slice(at).trim()}"`);
    at = TOKEN_RE.lastIndex;
    const [, field, identifier, integer, quoted, pipe] = token;
    const current = commands[commands.length - 1];
    if (pipe !== undefined) {
      if (current.length === 0) throw new Invalid('missing command before |');
      commands.push([]);
    } else if (field !== undefined) {
      if (source[at] === '.') throw new Unsupported(`a field chain ${field}.…`);
      current.push({ type: 'field', name: field.slice(1) });
    } else if (identifier !== undefined) {
      if (GO_ONLY.has(identifier)) throw new Unsupported(`"${identifier}"`);
      if (!FUNCTIONS.has(identifier)) throw new Invalid(`function "${identifier}" not defined`);
      current.push({ type: 'func', name: identifier });
    } else if (integer !== undefined) {
      if (!/^-?\d+$/.test(integer)) throw new Unsupported(`the number ${integer}`);
      current.push({ type: 'int', value: Number(integer) });
    } else if (quoted !== undefined) {
      try {
        current.push({ type: 'string', value: JSON.parse(quoted) as string });
      } catch {
        throw new Unsupported(`the string ${quoted}`);
      }
    }
  }
  if (commands.some((c) => c.length === 0)) throw new Invalid(commands.length === 1 ? 'empty action' : 'missing command after |');
  return commands;
}

/** Execute a pipeline; null on an execution error (the server's rule then does not match). */
function run(pipeline: Command[], data: TemplateData): Value | null {
  let previous: Value | null = null;
  for (const [head, ...args] of pipeline) {
    const values: Value[] = [];
    for (const arg of args) {
      const value = operandValue(arg, data);
      if (value === null) return null;
      values.push(value);
    }
    if (previous !== null) values.push(previous);
    if (head.type !== 'func') {
      if (values.length > 0) return null; // a field or literal cannot take arguments
      previous = operandValue(head, data);
    } else {
      previous = call(head.name, values);
    }
    if (previous === null) return null;
  }
  return previous;
}

function operandValue(operand: Operand, data: TemplateData): Value | null {
  switch (operand.type) {
    case 'field':
      return FIELDS.has(operand.name) ? { type: 'string', value: data[operand.name as keyof TemplateData] } : null;
    case 'func':
      return call(operand.name, []);
    case 'int':
    case 'string':
      return operand;
  }
}

function call(name: string, args: Value[]): Value | null {
  const [text, length] = args;
  if (text?.type !== 'string') return null;
  if (name === 'upper' || name === 'lower') {
    if (args.length !== 1) return null;
    return { type: 'string', value: name === 'upper' ? text.value.toUpperCase() : text.value.toLowerCase() };
  }
  // sha2 s [n]: n is a uint8
  if (args.length > 2 || (length !== undefined && (length.type !== 'int' || length.value < 0 || length.value > UINT8_MAX))) return null;
  const hash = createHash('sha256').update(text.value).digest('hex');
  if (length === undefined) return { type: 'string', value: hash };
  const n = Math.min(length.value, SHA2_MAX_LENGTH);
  return { type: 'string', value: hash.slice(0, n <= 0 ? SHA2_DEFAULT_LENGTH : n) };
}
