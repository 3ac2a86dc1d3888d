/**
 * Glob matching exactly as the SyftBox server does it: a port of
 * `doublestar.Match` from github.com/bmatcuk/doublestar v4.9.1 (match.go,
 * validate.go, utils.go), the matcher behind its permission rules and its
 * email globs. Ported rather than approximated with a general glob library
 * because the corners decide who may read a file:
 *
 * - `*` matches any run of characters except `/`, dot files included;
 * - `/**` at the end also matches the folder itself (`profile_*` + `/**`
 *   matches `profile_3`); `/**\/` in the middle matches zero or more folders;
 *   `**` not surrounded by separators is a single `*`;
 * - `?` one character except `/`; `[abc]`, `[a-z]`, `[!a]` and `[^a]` classes;
 * - `{a,b}` alternatives (nested allowed); `\` escapes the next character;
 * - a malformed pattern (unclosed `[` or `{`, empty class, trailing `\`)
 *   matches nothing, as the server treats Match's error as "no match".
 *
 * Names and patterns are compared code point by code point, as Go compares runes.
 */

const SEPARATOR = 0x2f; // '/'
const STAR = 0x2a; // '*'
const QUESTION = 0x3f; // '?'
const OPEN_CLASS = 0x5b; // '['
const CLOSE_CLASS = 0x5d; // ']'
const OPEN_ALT = 0x7b; // '{'
const CLOSE_ALT = 0x7d; // '}'
const COMMA = 0x2c; // ','
const BACKSLASH = 0x5c; // '\'
const BANG = 0x21; // '!'
const CARET = 0x5e; // '^'
const DASH = 0x2d; // '-'
/** Stands for "no character" where Go would decode utf8.RuneError past the end. */
const NONE = -1;

type Runes = readonly number[];
/** Go's (matched, err): 'bad' is doublestar.ErrBadPattern. */
type Outcome = boolean | 'bad';

const MAX_CACHED_PATTERNS = 10_000;
const patternRunes = new Map<string, Runes>();

function toRunes(text: string): number[] {
  return Array.from(text, (c) => c.codePointAt(0) as number);
}

function runesOf(pattern: string): Runes {
  let runes = patternRunes.get(pattern);
  if (runes === undefined) {
    if (patternRunes.size >= MAX_CACHED_PATTERNS) patternRunes.clear();
    runes = toRunes(pattern);
    patternRunes.set(pattern, runes);
  }
  return runes;
}

/** True when the pattern has glob syntax the server looks for (`*`, `?` or `[`); otherwise it compares names exactly. */
export function hasGlobSyntax(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** `doublestar.Match(pattern, name)`; a malformed pattern matches nothing. */
export function globMatch(pattern: string, name: string): boolean {
  return doMatch(runesOf(pattern), toRunes(name), -1, -1, -1, -1, 0, 0) === true;
}

function doMatch(
  pattern: Runes,
  name: Runes,
  doublestarPatternBacktrackIn: number,
  doublestarNameBacktrackIn: number,
  starPatternBacktrackIn: number,
  starNameBacktrackIn: number,
  patIdxIn: number,
  nameIdxIn: number,
): Outcome {
  let doublestarPatternBacktrack = doublestarPatternBacktrackIn;
  let doublestarNameBacktrack = doublestarNameBacktrackIn;
  let starPatternBacktrack = starPatternBacktrackIn;
  let starNameBacktrack = starNameBacktrackIn;
  let patIdx = patIdxIn;
  let nameIdx = nameIdxIn;
  const patLen = pattern.length;
  const nameLen = name.length;
  let startOfSegment = true;
  match: while (nameIdx < nameLen) {
    if (patIdx < patLen) {
      switch (pattern[patIdx]) {
        case STAR: {
          patIdx++;
          if (patIdx < patLen && pattern[patIdx] === STAR) {
            // a doublestar must begin a segment; otherwise it is a single star, as in bash
            patIdx++;
            if (startOfSegment) {
              if (patIdx >= patLen) return true; // pattern ends in `/**`
              if (pattern[patIdx] === SEPARATOR) {
                patIdx++;
                doublestarPatternBacktrack = patIdx;
                doublestarNameBacktrack = nameIdx;
                starPatternBacktrack = -1;
                starNameBacktrack = -1;
                continue match;
              }
            }
          }
          startOfSegment = false;
          starPatternBacktrack = patIdx;
          starNameBacktrack = nameIdx;
          continue match;
        }

        case QUESTION:
          startOfSegment = false;
          if (name[nameIdx] === SEPARATOR) break; // `?` never matches the separator
          patIdx++;
          nameIdx++;
          continue match;

        case OPEN_CLASS: {
          startOfSegment = false;
          patIdx++;
          if (patIdx >= patLen) return 'bad';
          const nameRune = name[nameIdx];
          let matched = false;
          const negate = pattern[patIdx] === BANG || pattern[patIdx] === CARET;
          if (negate) patIdx++;
          if (patIdx >= patLen || pattern[patIdx] === CLOSE_CLASS) return 'bad'; // unclosed or empty class
          let last = NONE;
          while (patIdx < patLen && pattern[patIdx] !== CLOSE_CLASS) {
            let patRune = runeAt(pattern, patIdx);
            patIdx++;
            if (last !== NONE && patRune === DASH && patIdx < patLen && pattern[patIdx] !== CLOSE_CLASS) {
              if (pattern[patIdx] === BACKSLASH) patIdx++;
              patRune = runeAt(pattern, patIdx);
              if (patIdx < patLen) patIdx++;
              if (last <= nameRune && nameRune <= patRune) {
                matched = true;
                break;
              }
              last = NONE; // no match in the range: start over
              continue;
            }
            if (patRune === BACKSLASH) {
              patRune = runeAt(pattern, patIdx);
              if (patIdx < patLen) patIdx++;
            }
            if (patRune === nameRune) {
              matched = true;
              break;
            }
            last = patRune;
          }
          if (matched === negate) {
            if (patIdx >= patLen) return 'bad'; // the class never closed
            break;
          }
          const closingIdx = indexUnescaped(pattern, patIdx, patLen, CLOSE_CLASS);
          if (closingIdx === -1) return 'bad';
          patIdx = closingIdx + 1;
          nameIdx++;
          continue match;
        }

        case OPEN_ALT: {
          startOfSegment = false;
          const beforeIdx = patIdx;
          patIdx++;
          const closingIdx = indexMatchedClosingAlt(pattern, patIdx, patLen);
          if (closingIdx === -1) return 'bad';
          for (;;) {
            const commaIdx = indexNextAlt(pattern, patIdx, closingIdx);
            if (commaIdx === -1) break;
            const alternative = [...pattern.slice(0, beforeIdx), ...pattern.slice(patIdx, commaIdx), ...pattern.slice(closingIdx + 1)];
            const result = doMatch(alternative, name, doublestarPatternBacktrack, doublestarNameBacktrack, starPatternBacktrack, starNameBacktrack, beforeIdx, nameIdx);
            if (result !== false) return result;
            patIdx = commaIdx + 1;
          }
          const lastAlternative = [...pattern.slice(0, beforeIdx), ...pattern.slice(patIdx, closingIdx), ...pattern.slice(closingIdx + 1)];
          return doMatch(lastAlternative, name, doublestarPatternBacktrack, doublestarNameBacktrack, starPatternBacktrack, starNameBacktrack, beforeIdx, nameIdx);
        }

        default: {
          if (pattern[patIdx] === BACKSLASH) {
            // the next rune is escaped: compare it literally
            patIdx++;
            if (patIdx >= patLen) return 'bad';
          }
          const patRune = pattern[patIdx];
          if (patRune !== name[nameIdx]) {
            // an escaped rune: step back to its backslash before backtracking or validating
            if (patIdx > 0 && pattern[patIdx - 1] === BACKSLASH) patIdx--;
            break;
          }
          patIdx++;
          nameIdx++;
          startOfSegment = patRune === SEPARATOR;
          continue match;
        }
      }
    }

    if (starPatternBacktrack >= 0 && name[starNameBacktrack] !== SEPARATOR) {
      // `*` takes one more character, but never the separator
      starNameBacktrack++;
      patIdx = starPatternBacktrack;
      nameIdx = starNameBacktrack;
      startOfSegment = false;
      continue;
    }

    if (doublestarPatternBacktrack >= 0) {
      // `**` takes one more folder: advance past the next separator
      nameIdx = doublestarNameBacktrack;
      while (nameIdx < nameLen) {
        const nameRune = name[nameIdx];
        nameIdx++;
        if (nameRune === SEPARATOR) {
          doublestarNameBacktrack = nameIdx;
          patIdx = doublestarPatternBacktrack;
          startOfSegment = true;
          continue match;
        }
      }
    }

    if (patIdx < patLen && !isValidPattern(pattern.slice(patIdx))) return 'bad';
    return false;
  }

  // the name is used up: a match if the pattern is too, or what remains can match nothing
  return isZeroLengthPattern(pattern.slice(patIdx));
}

function runeAt(runes: Runes, index: number): number {
  return index < runes.length ? runes[index] : NONE;
}

/** `/**`, `**\/` and `/**\/` match a zero-length rest, so `path/to/a/**` matches `path/to/a`. */
function isZeroLengthPattern(pattern: Runes): Outcome {
  const is = (offset: number, ...runes: number[]) => runes.every((r, i) => pattern[offset + i] === r);
  switch (pattern.length) {
    case 0:
      return true;
    case 1:
      if (pattern[0] === STAR) return true;
      break;
    case 2:
      if (is(0, STAR, STAR)) return true;
      break;
    case 3:
      if (is(0, SEPARATOR, STAR, STAR) || is(0, STAR, STAR, SEPARATOR)) return true;
      break;
    case 4:
      if (is(0, SEPARATOR, STAR, STAR, SEPARATOR)) return true;
      break;
  }
  if (pattern[0] === OPEN_ALT) {
    const closingIdx = indexMatchedClosingAlt(pattern, 1, pattern.length);
    if (closingIdx === -1) return 'bad';
    const rest = pattern.slice(closingIdx + 1);
    let patIdx = 1;
    for (;;) {
      const commaIdx = indexNextAlt(pattern, patIdx, closingIdx);
      if (commaIdx === -1) break;
      const result = isZeroLengthPattern([...pattern.slice(patIdx, commaIdx), ...rest]);
      if (result !== false) return result;
      patIdx = commaIdx + 1;
    }
    return isZeroLengthPattern([...pattern.slice(patIdx, closingIdx), ...rest]);
  }
  return isValidPattern(pattern) ? false : 'bad';
}

/** Index of the first unescaped `target` in [from, to), or -1. */
function indexUnescaped(runes: Runes, from: number, to: number, target: number): number {
  for (let i = from; i < to; i++) {
    if (runes[i] === BACKSLASH) i++;
    else if (runes[i] === target) return i;
  }
  return -1;
}

/** With an opening `{` just before `from`: the index of its matching `}` (nested alternatives and escapes skipped), or -1. */
function indexMatchedClosingAlt(runes: Runes, from: number, to: number): number {
  let alts = 1;
  for (let i = from; i < to; i++) {
    if (runes[i] === BACKSLASH) i++;
    else if (runes[i] === OPEN_ALT) alts++;
    else if (runes[i] === CLOSE_ALT && --alts === 0) return i;
  }
  return -1;
}

/** The next top-level `,` in [from, to), or -1. */
function indexNextAlt(runes: Runes, from: number, to: number): number {
  let alts = 1;
  for (let i = from; i < to; i++) {
    if (runes[i] === BACKSLASH) i++;
    else if (runes[i] === OPEN_ALT) alts++;
    else if (runes[i] === CLOSE_ALT) alts--;
    else if (runes[i] === COMMA && alts === 1) return i;
  }
  return -1;
}

/** `doublestar.ValidatePattern`: classes closed and non-empty, alternatives balanced, no trailing `\`. */
function isValidPattern(runes: Runes): boolean {
  let altDepth = 0;
  const length = runes.length;
  validate: for (let i = 0; i < length; i++) {
    switch (runes[i]) {
      case BACKSLASH:
        i++;
        if (i >= length) return false;
        continue;
      case OPEN_CLASS:
        i++;
        if (i >= length) return false;
        if (runes[i] === CARET || runes[i] === BANG) i++;
        if (i >= length || runes[i] === CLOSE_CLASS) return false;
        for (; i < length; i++) {
          if (runes[i] === BACKSLASH) i++;
          else if (runes[i] === CLOSE_CLASS) continue validate;
        }
        return false;
      case OPEN_ALT:
        altDepth++;
        continue;
      case CLOSE_ALT:
        if (altDepth === 0) return false;
        altDepth--;
        continue;
    }
  }
  return altDepth === 0;
}
