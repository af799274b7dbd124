// A store stand-in for bench:negotiate only, never for tests. It answers the two calls a cold
// upload negotiation makes of S3 (HeadBucket at start, HEAD of a missing object per request) with
// the status and headers Ceph RGW 16 sends, and checks only the request's shape (a SigV4 presigned
// HEAD), not its signature. On this two-core machine RGW shares the load generator's core and
// answers about 5,000 HEAD/s, which caps the cold-upload figure below what the gateway itself can do;
// this stand-in answers several times faster, so that scenario measures the gateway.
//
//   node bench/lib/fast-store.mjs PORT BUCKET
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const [port, bucket] = process.argv.slice(2);
let n = 0;
const prefix = randomBytes(6).toString('hex');

createServer((req, res) => {
  const url = new URL(req.url, 'http://store');
  const common = { 'accept-ranges': 'bytes', 'x-amz-request-id': `tx${prefix}${(n++).toString(16).padStart(8, '0')}-default`, date: new Date().toUTCString() };
  if (req.method !== 'HEAD') {
    res.writeHead(501, common).end();
  } else if (!req.headers.authorization && !url.searchParams.has('X-Amz-Signature')) {
    res.writeHead(403, { ...common, 'content-type': 'application/xml', 'content-length': '200' }).end();
  } else if (url.pathname === `/${bucket}`) {
    res.writeHead(200, { ...common, 'content-length': '0', 'x-rgw-bytes-used': '0', 'x-rgw-object-count': '0' }).end();
  } else if (url.pathname.startsWith(`/${bucket}/`)) {
    res.writeHead(404, { ...common, 'content-type': 'application/xml', 'content-length': '231' }).end();
  } else {
    res.writeHead(404, { ...common, 'content-type': 'application/xml', 'content-length': '227' }).end();
  }
}).listen(Number(port), '127.0.0.1');
