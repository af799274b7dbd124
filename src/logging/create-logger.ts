import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * JSON logs. Tokens and signed URLs never reach them: request logs carry the path without its
 * query string, and these paths are censored wherever they appear.
 */
export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'token',
  'url',
  'query',
  'secret',
  '*.authorization',
  '*.token',
  '*.url',
  '*.secret',
];

export function createLogger(opts: { level: string; destination?: pino.DestinationStream; name?: string }): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    name: opts.name ?? 'velocity-gateway',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
