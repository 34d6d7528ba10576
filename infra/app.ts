import { App } from "aws-cdk-lib";
import { InputError } from "../lib/errors/errors.ts";
import { buildApp } from "./stacks.ts";

// `npx cdk synth|deploy` runs this (cdk.json "app"); settings come from context (-c key=value).
// A bad context value is the user's to fix: one line naming the key, no stack trace.
try {
  buildApp(new App()).synth();
} catch (error) {
  if (!(error instanceof InputError)) throw error;
  process.stderr.write(`portwarden: ${error.message}\n`);
  process.exit(1);
}
