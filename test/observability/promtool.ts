import { spawn } from 'node:child_process';

export interface ToolResult {
  readonly code: number;
  readonly output: string;
}

/** Runs Debian's `promtool` (package `prometheus`); stdout and stderr together. */
export function promtool(args: readonly string[], stdin?: string): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', (err) => reject(new Error(`promtool: ${err.message} (install Debian's prometheus package)`)));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
    child.stdin.end(stdin ?? '');
  });
}
