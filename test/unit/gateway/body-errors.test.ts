import { describe, expect, it } from '@jest/globals';
import { ClientClosedRequestError, VelocityError } from '../../../src/errors.js';
import { bodyReadError } from '../../../src/gateway/body-errors.js';

/** The errors raw-body, inflation and zlib throw, as they throw them (type, status, code). */
const raw = (fields: Record<string, unknown>) => Object.assign(new Error('from the body reader'), fields);

describe('bodyReadError', () => {
  it.each<[string, Record<string, unknown>, number, string]>([
    ['entity.too.large', { type: 'entity.too.large', status: 413 }, 413, 'payload_too_large'],
    ['request.size.invalid', { type: 'request.size.invalid', status: 400 }, 400, 'invalid_body'],
    ['charset unsupported', { type: 'encoding.unsupported', status: 415 }, 415, 'unsupported_encoding'],
    ['content-encoding unsupported', { status: 415 }, 415, 'unsupported_encoding'],
    ['zlib data error', { code: 'Z_DATA_ERROR', errno: -3 }, 400, 'invalid_encoding'],
    ['zlib truncated', { code: 'Z_BUF_ERROR', errno: -5 }, 400, 'invalid_encoding'],
    ['brotli error', { code: 'ERR__ERROR_FORMAT_PADDING_2', errno: -15 }, 400, 'invalid_encoding'],
  ])('%s', (_label, fields, status, code) => {
    const mapped = bodyReadError(raw(fields), 'gzip', false);
    expect(mapped).toBeInstanceOf(VelocityError);
    expect([(mapped as VelocityError).status, (mapped as VelocityError).code]).toEqual([status, code]);
  });

  it('an aborted body is the client leaving (499), or a 408 when the slow-client rules cut it', () => {
    expect(bodyReadError(raw({ type: 'request.aborted', status: 400 }), undefined, false)).toBeInstanceOf(ClientClosedRequestError);
    const cut = bodyReadError(raw({ type: 'request.aborted', status: 400 }), undefined, true) as VelocityError;
    expect([cut.status, cut.code]).toEqual([408, 'request_timeout']);
  });

  it('leaves our own bugs alone, for the error boundary to answer 500', () => {
    const bug = raw({ type: 'stream.encoding.set', status: 500 });
    expect(bodyReadError(bug, undefined, false)).toBe(bug);
  });
});
