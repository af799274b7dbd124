#!/usr/bin/env node
import { main } from '../gateway/main.js';

main(process.argv, process.env).catch((err: unknown) => {
  process.stderr.write(`velocity-gateway: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
