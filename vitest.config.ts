import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start servers (moto, etcd, listeners); give them room but keep failures quick.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
