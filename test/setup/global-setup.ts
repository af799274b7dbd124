import { portsForSlot, startRedis, startRgw } from './services.ts';

/**
 * Starts the real services the suite runs against: Ceph RGW on loopback (object store) and
 * redis-server (build queue), on ports of this run's own. Their coordinates reach the test
 * workers through the environment. VC_TEST_SERVICES=none skips them (pure unit tests only).
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.VC_TEST_SERVICES === 'none') return;
  const slot = process.pid % 380;
  const run = `run-${process.pid}`;
  const [rgw, redisUrl] = await Promise.all([startRgw(`${run}/rgw`, slot), startRedis(`${run}/redis`, portsForSlot(slot).redis)]);
  Object.assign(process.env, rgw.env, {
    VC_TEST_REDIS_URL: redisUrl,
    VC_TEST_RUN: run,
    VC_TEST_SLOT: String(slot),
  });
}
