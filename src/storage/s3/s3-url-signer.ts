import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { StorageUnavailableError } from '../errors.js';
import type { AwsCredentialIdentityProvider, ChecksumConstructor, HashConstructor, HttpRequest } from '@smithy/types';

export interface S3Location {
  readonly protocol: 'http:' | 'https:';
  readonly hostname: string;
  readonly port?: number | undefined;
  /** Path prefix before the key: `/bucket` for path-style, empty for virtual-hosted. */
  readonly basePath: string;
}

export interface SignOptions {
  readonly method: 'GET' | 'PUT' | 'HEAD';
  readonly key: string;
  readonly ttlSeconds: number;
  /** Headers the client must send; they are signed and never moved into the query. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Extra query parameters, signed (e.g. `partNumber`, `uploadId`, `x-amz-meta-*`). */
  readonly query?: Readonly<Record<string, string>>;
  readonly now?: Date;
}

/**
 * A long-lived SigV4 presigner. `getSignedUrl` builds a new signer and runs the whole SDK
 * middleware stack on every call (hundreds of µs); signing a request we build ourselves with one
 * signer costs tens of µs, which is what lets a negotiation presign on every miss.
 */
export class S3UrlSigner {
  private readonly presigner: S3RequestPresigner;
  private readonly now: () => number;

  constructor(
    private readonly location: S3Location,
    opts: {
      credentials: AwsCredentialIdentityProvider;
      region: string;
      sha256: ChecksumConstructor | HashConstructor;
      now?: () => number;
    },
  ) {
    this.now = opts.now ?? Date.now;
    this.presigner = new S3RequestPresigner({ credentials: opts.credentials, region: opts.region, sha256: opts.sha256 });
  }

  async sign(opts: SignOptions): Promise<string> {
    const headers: Record<string, string> = { host: this.hostHeader() };
    const unhoistable = new Set<string>();
    for (const [name, value] of Object.entries(opts.headers ?? {})) {
      const lower = name.toLowerCase();
      headers[lower] = value;
      unhoistable.add(lower);
    }
    const request: HttpRequest = {
      protocol: this.location.protocol,
      hostname: this.location.hostname,
      port: this.location.port,
      method: opts.method,
      path: `${this.location.basePath}/${opts.key}`,
      query: { ...opts.query },
      headers,
    };
    let signed: HttpRequest;
    try {
      signed = await this.presigner.presign(request, {
        expiresIn: opts.ttlSeconds,
        unhoistableHeaders: unhoistable,
        signingDate: opts.now ?? new Date(this.now()),
      });
    } catch (err) {
      // Almost always missing or unloadable credentials: the store cannot be used, which is an
      // outage to report (503), not a server bug and not a miss.
      throw new StorageUnavailableError(`cannot sign store requests: ${(err as Error).message} (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the AWS profile)`, err);
    }
    return this.format(signed);
  }

  private hostHeader(): string {
    return this.location.port === undefined ? this.location.hostname : `${this.location.hostname}:${this.location.port}`;
  }

  private format(req: HttpRequest): string {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(req.query ?? {})) {
      if (v === null || v === undefined) continue;
      for (const item of Array.isArray(v) ? v : [v]) parts.push(`${encodeRfc3986(k)}=${encodeRfc3986(item)}`);
    }
    const qs = parts.length > 0 ? `?${parts.join('&')}` : '';
    return `${this.location.protocol}//${this.hostHeader()}${req.path}${qs}`;
  }
}

function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
