import { defineConfig } from "vitest/config";

// The tests live beside the other suites, in tests/Pb.Js.Client.Tests (STYLE: tests mirror the source rooms).
export default defineConfig({
  test: {
    include: ["../../tests/Pb.Js.Client.Tests/**/*.test.ts", "../../tests/Browser/**/*.test.ts"],
    // the FinalizationRegistry test collects garbage on purpose
    execArgv: ["--expose-gc"],
    reporters: ["default", ["junit", { outputFile: "../../artifacts/test-results/Pb.Js.Client.Tests/junit.xml" }]],
  },
});
