#!/usr/bin/env node
import { workerMain } from '../builds/worker-main.js';

workerMain(process.argv, process.env).catch((err: unknown) => {
  process.stderr.write(`velocity-worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
