/**
 * Port SPECs on the wire parsed into PortSet values, as zod schemas for the boundaries (files,
 * Map items, config). Kept apart from port-spec.ts so that the scanner, which parses SPECs too,
 * loads no zod (the EMFILE scenario runs the scanner at a 64-descriptor limit).
 */
import { z } from "zod";
import { PORT_SPEC_MAX_CHARS } from "../contracts/limits.ts";
import { InputError } from "../errors/errors.ts";
import type { PortSet } from "./port-set.ts";
import { parsePortList, parsePortSpec } from "./port-spec.ts";

const SPEC_EXAMPLE = "is not a port SPEC (e.g. '22,443,30000-32767')";

function portSetFromText(parse: (spec: string) => PortSet) {
  return z
    .string()
    .max(PORT_SPEC_MAX_CHARS)
    .transform((text, ctx): PortSet => {
      try {
        return parse(text);
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        ctx.issues.push({ code: "custom", input: text, message: SPEC_EXAMPLE });
        return z.NEVER;
      }
    });
}

/**
 * A port SPEC on the wire (JSON, files, events) parsed into a PortSet; "" is the empty set. The
 * wire form is the text `PortSet.toJSON()` writes, so a value survives any JSON seam unchanged.
 * An error names the field: `targets[3].internetAllowed: '22-' is not a port SPEC (...)`.
 */
export const portSetSchema = portSetFromText((text) => parsePortList(text));

/** A port SPEC that must name at least one port (a suppression's `ports`): "" is refused. */
export const nonEmptyPortSetSchema = portSetFromText((text) => parsePortSpec(text));
