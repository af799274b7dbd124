import { VelocityError } from '../errors.js';

/** No safe lease (no Redis, and a store without conditional writes): passes cannot run. */
export class LeaseUnavailableError extends VelocityError {
  constructor() {
    super('eviction needs VC_REDIS_URL or a store with conditional writes (for its lease)', {
      status: 501,
      code: 'eviction_unavailable',
    });
  }
}
