import { createHash } from 'node:crypto';

/**
 * Writes the few REAPI v2 messages the tests send by hand (remote_execution.proto): an
 * ActionResult naming output files by Digest. Just the protobuf wire types these use.
 */
export function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

export const lenField = (field: number, bytes: Buffer): Buffer => Buffer.from([...varint(field * 8 + 2), ...varint(bytes.length), ...bytes]);
export const intField = (field: number, n: number): Buffer => Buffer.from([...varint(field * 8), ...varint(n)]);
export const strField = (field: number, s: string): Buffer => lenField(field, Buffer.from(s, 'latin1'));
/** Digest { hash = 1, size_bytes = 2 } */
export const digestMessage = (hash: string, size: number): Buffer => Buffer.concat([strField(1, hash), intField(2, size)]);
export const sha256Hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** ActionResult { output_files = 2: OutputFile { path = 1, digest = 2 }, exit_code = 4 } */
export function actionResult(files: readonly { path: string; body: Buffer }[]): Buffer {
  return Buffer.concat([
    ...files.map((f) => lenField(2, Buffer.concat([strField(1, f.path), lenField(2, digestMessage(sha256Hex(f.body), f.body.length))]))),
    intField(4, 0),
  ]);
}
