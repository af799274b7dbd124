import { BadRequestError } from '../../errors.js';

const U64_MAX = 18446744073709551615n;
const DECIMAL = /^(?:0|[1-9]\d{0,19})$/;

/**
 * Nx names a task's outputs by a decimal unsigned 64-bit hash (its native hasher's u64, printed
 * with `to_string`). Anything else is not an Nx hash: 400, before the store is asked.
 */
export function nxHash(raw: string | undefined): string {
  if (raw === undefined || !DECIMAL.test(raw) || BigInt(raw) > U64_MAX) {
    throw new BadRequestError('hash must be a decimal unsigned 64-bit number', 'invalid_hash');
  }
  return raw;
}
