#!/usr/bin/env node
/** The `token-usage` bin. */
import { runCli } from "./program.js";

runCli(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`token-usage: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
