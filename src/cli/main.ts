#!/usr/bin/env node
// The `faultline` executable: runs the command on the process's arguments and terminal.
import { runCli } from "./app.js";

process.exitCode = runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  progress: process.stderr.isTTY === true,
});
