import { purge, rgwControl, serviceDir, stopRedis } from './services.ts';

export default async function globalTeardown(): Promise<void> {
  if (process.env.VC_TEST_SERVICES === 'none') return;
  const run = process.env.VC_TEST_RUN as string;
  const redisPort = Number(new URL(process.env.VC_TEST_REDIS_URL as string).port);
  await Promise.all([rgwControl(process.env.VC_TEST_RGW_DIR as string, 'stop'), stopRedis(redisPort)]);
  await purge(serviceDir(run));
}
