import { App } from "aws-cdk-lib";
import { buildApp } from "./stacks.ts";

// `npx cdk synth|deploy` runs this (cdk.json "app"); settings come from context (-c key=value).
buildApp(new App()).synth();
