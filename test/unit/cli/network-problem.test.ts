import { describe, expect, it } from '@jest/globals';
import { networkProblem } from '../../../src/cli/remote/problems.js';

const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
const SIGNED = 'http://localhost:9000/velocity/artifacts/default/abc?X-Amz-Credential=KEY%2F20261129&X-Amz-Signature=deadbeef';

describe('networkProblem', () => {
  it('names the store host of a presigned URL the machine cannot reach, and what to set', () => {
    const err = networkProblem('download', refused, { url: SIGNED, gateway: 'https://cache.example.com' });
    expect(err.message).toBe('download from the object store at http://localhost:9000: ECONNREFUSED');
    expect(err.hint).toMatch(/URLs naming http:\/\/localhost:9000.*VC_S3_PUBLIC_ENDPOINT/);
    expect(err.hint).not.toMatch(/remote\.url/);
    // The query string is a credential: never in a message.
    expect(`${err.message} ${err.hint}`).not.toMatch(/Signature|Credential|deadbeef/);
  });

  it('points at remote.url when the URL is the gateway itself (local driver) or there is none', () => {
    const local = networkProblem('download', refused, { url: 'http://127.0.0.1:8080/v1/local/artifacts/default/abc?sig=x', gateway: 'http://127.0.0.1:8080' });
    expect(local.hint).toMatch(/check remote\.url/);
    expect(local.message).not.toContain('sig=');
    expect(networkProblem('POST http://gw/v1/negotiate', refused).hint).toMatch(/check remote\.url/);
  });
});
