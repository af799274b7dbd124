import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { envVariablesHelp } from '../config/env-help.js';
import { loadConfig } from '../config/load-config.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../logging/create-logger.js';
import { packageVersion } from '../metrics/package-version.js';
import { buildsExtension } from './build-extension.js';
import { exitAfterDrain } from '../process-signals.js';
import { startGateway } from './start-gateway.js';

/**
 * A gateway must never run open. With no token and no JWT settings configured, generate a token
 * with full access for this process and show it once, on the terminal (not in the logs).
 */
function ensureAuth(config: Config, stderr: NodeJS.WritableStream): Config {
  const { tokens, jwtSecret, jwksUrl } = config.auth;
  if (tokens.length > 0 || jwtSecret || jwksUrl) return config;
  const token = `vc_${randomBytes(24).toString('base64url')}`;
  stderr.write(
    [
      '',
      '  No VC_AUTH_TOKEN, VC_JWT_SECRET or VC_JWKS_URL is set, so this gateway generated a token',
      '  with full access, valid until it stops (set VC_AUTH_TOKEN to choose your own):',
      '',
      `    ${token}`,
      '',
      '',
    ].join('\n'),
  );
  return { ...config, auth: { ...config.auth, tokens: [token] } };
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const program = new Command('velocity-gateway')
    .description('Velocity gateway: negotiates content hashes and hands out presigned URLs')
    .version(packageVersion(), '-V, --version')
    .option('-c, --config <file>', 'YAML config file (environment variables override it; also VC_CONFIG)')
    .addHelpText('after', envVariablesHelp())
    .parse([...argv]);
  const opts = program.opts<{ config?: string }>();

  let config: Config;
  try {
    config = await loadConfig({ env, configFile: opts.config });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`velocity-gateway: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  config = ensureAuth(config, process.stderr);
  const logger = createLogger({ level: config.logLevel });
  const gw = await startGateway({ config, logger, extend: buildsExtension({ config, logger }) });
  logger.info(
    { listen: gw.url, storage: gw.driver.name, integrity: gw.driver.capabilities.digest },
    'velocity-gateway listening',
  );

  exitAfterDrain(logger, () => gw.close(), { message: 'draining', fields: { graceSeconds: config.shutdownGrace } });
}
