#!/usr/bin/env node
/** The `token-usage` bin. */
import { runCli } from "./program.js";

// `token-usage summary --json | head`: the reader closed the pipe, so there is no one
// left to write to. Stop quietly, as Unix tools do on SIGPIPE, instead of dying on an
// unhandled stream error. Safe at any point: every command has stored what it wrote
// (writes are awaited) before it prints.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  process.stderr.write(`token-usage: cannot write to stdout: ${error.message}\n`);
  process.exit(1);
});

runCli(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`token-usage: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
