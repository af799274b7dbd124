// The reference for the streaming path in bench/clients.mjs: a bare node:http server that copies one
// file to the socket for every GET (fs stream piped to the response, as plain as Node gets), reading
// 1 MiB at a time as the gateway's local driver does.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { pipeline } from 'node:stream';

const [port, file] = process.argv.slice(2);
const size = statSync(file).size;
createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
  if (req.method === 'HEAD') return res.end();
  pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), res, () => {});
}).listen(Number(port), '127.0.0.1');
