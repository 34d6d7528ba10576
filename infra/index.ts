/**
 * `import { Portwarden } from "portwarden/infra"`: the construct and the member-role stack for a
 * team's own CDK app (package.json `exports`). The Lambdas are bundled from the package's built
 * handlers by the app's local esbuild (add `esbuild` to the app's devDependencies, no Docker).
 */
export { PortwardenMemberRoleStack, type PortwardenMemberRoleStackProps } from "./member-role-stack.ts";
export { Portwarden } from "./portwarden.ts";
export type { PortwardenProps } from "./portwarden-props.ts";
export { PortwardenStack } from "./stacks.ts";
