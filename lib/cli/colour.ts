/**
 * Colour for terminals only: on when the stream is a TTY, off with NO_COLOR (any non-empty value,
 * https://no-color.org) or FORCE_COLOR=0; FORCE_COLOR=1/2/3 turns it on for pipes too (CI logs).
 */
export function colourWanted(isTTY: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force !== "false";
  return Boolean(isTTY) && env.TERM !== "dumb";
}

const CODES = {
  red: [31, 39],
  yellow: [33, 39],
  green: [32, 39],
  cyan: [36, 39],
  dim: [2, 22],
  bold: [1, 22],
} as const;
export type Style = keyof typeof CODES;

export function paint(text: string, styles: readonly Style[], on: boolean): string {
  if (!on || styles.length === 0) return text;
  return styles.reduce((out, s) => `\x1b[${CODES[s][0]}m${out}\x1b[${CODES[s][1]}m`, text);
}

const LEADING: [RegExp, Style[]][] = [
  [/^CRITICAL\b/, ["red", "bold"]],
  [/^HIGH\b/, ["red"]],
  [/^MEDIUM\b/, ["yellow"]],
  [/^LOW\b/, ["cyan"]],
  [/^INFO\b/, ["dim"]],
  [/^RESOLVED\b/, ["green"]],
];

/**
 * Colours the first word of each line the way the console notifier and `status` start them
 * (severity or RESOLVED), and the word INCOMPLETE (round summaries, scans). Text is otherwise untouched.
 */
export function paintLines(text: string, on: boolean): string {
  if (!on) return text;
  return text
    .split("\n")
    .map((line) => {
      for (const [pattern, styles] of LEADING) {
        const m = pattern.exec(line);
        if (m) return paint(m[0], styles, true) + line.slice(m[0].length);
      }
      return line.replace(/\bINCOMPLETE\b/, paint("INCOMPLETE", ["yellow", "bold"], true));
    })
    .join("\n");
}
