/**
 * JSON laid out for reading, token for token: every string, number and key stays exactly as it was sent (a
 * repeated key stays repeated, 9007199254740993 and 1e400 stay as written), only white space between tokens
 * changes. Parsing and printing again would show another document: the last of two repeated keys, rounded numbers,
 * `null` for 1e400.
 *
 * Bounded: deeper than MAX_DEPTH, or a layout that would pass a few times the text's size, answers undefined and the
 * caller shows the text as it is. Indenting every level of `[[[[…]]]]` 6,000 deep made a 12 KB payload a 72 MB page.
 */
const MAX_DEPTH = 32;
const INDENT = "  ";
const WHITE = new Set([" ", "\t", "\n", "\r"]);
/** Characters that end a number or literal (`true`, `false`, `null`). */
const STOPS = new Set(["{", "}", "[", "]", ",", ":", '"', " ", "\t", "\n", "\r"]);

/**
 * @example
 * layOutJson('{"a":1,"a":2}'); // '{\n  "a": 1,\n  "a": 2\n}'
 * layOutJson("not json"); // undefined
 */
export function layOutJson(text: string): string | undefined {
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  const limit = 3 * text.length + 4_096;
  const parts: string[] = [];
  let size = 0;
  const put = (part: string): boolean => {
    parts.push(part);
    size += part.length;
    return size <= limit;
  };
  const newline = (depth: number) => `\n${INDENT.repeat(depth)}`;
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    let part: string;
    if (WHITE.has(c)) {
      i += 1;
      continue;
    } else if (c === '"') {
      let end = i + 1;
      while (text.charAt(end) !== '"') end += text.charAt(end) === "\\" ? 2 : 1;
      part = text.slice(i, end + 1);
      i = end + 1;
    } else if (c === "{" || c === "[") {
      let next = i + 1;
      while (WHITE.has(text.charAt(next))) next += 1;
      const close = c === "{" ? "}" : "]";
      if (text.charAt(next) === close) {
        part = c + close;
        i = next + 1;
      } else {
        depth += 1;
        if (depth > MAX_DEPTH) return undefined;
        part = c + newline(depth);
        i += 1;
      }
    } else if (c === "}" || c === "]") {
      depth -= 1;
      part = newline(depth) + c;
      i += 1;
    } else if (c === ",") {
      part = "," + newline(depth);
      i += 1;
    } else if (c === ":") {
      part = ": ";
      i += 1;
    } else {
      let end = i;
      while (end < text.length && !STOPS.has(text.charAt(end))) end += 1;
      part = text.slice(i, end);
      i = end;
    }
    if (!put(part)) return undefined;
  }
  return parts.join("");
}
