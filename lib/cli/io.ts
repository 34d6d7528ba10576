import { colourWanted } from "./colour.ts";

/** What a command writes to; tests pass their own to capture output. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** True when stderr is a terminal: progress lines are shown only then. */
  interactive: boolean;
  /** Colour on stdout (a terminal, no NO_COLOR / FORCE_COLOR=0). Default: off. */
  colour?: boolean;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interactive: Boolean(process.stderr.isTTY),
  colour: colourWanted(process.stdout.isTTY),
};

/** A subcommand: parses its own argv, returns the exit code. */
export type Command = (argv: string[], io: CliIo) => Promise<number>;
