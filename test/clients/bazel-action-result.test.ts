import { describe, expect, it } from '@jest/globals';
import { actionResultDigests, EMPTY_SHA256, requiredBlobs } from '../../src/gateway/protocols/bazel-action-result.js';
import { digestMessage as digest, intField as int, lenField as len, sha256Hex as sha, strField as str, varint } from './bazel-proto-writer.js';

describe('ActionResult digests (REAPI v2 wire format)', () => {
  it('finds output files, output directory trees, stdout and stderr, skipping every other field', () => {
    const [a, b, t, o, e] = ['a', 'b', 'tree', 'out', 'err'].map(sha) as [string, string, string, string, string];
    const bytes = Buffer.concat([
      // OutputFile { path = 1, digest = 2, is_executable = 4 }
      len(2, Buffer.concat([str(1, 'bazel-out/k8-fastbuild/bin/a.txt'), len(2, digest(a, 1)), int(4, 1)])),
      len(2, Buffer.concat([str(1, 'b.bin'), len(2, digest(b, 300_000))])),
      // OutputDirectory { path = 1, tree_digest = 3 }
      len(3, Buffer.concat([str(1, 'dir'), len(3, digest(t, 77))])),
      int(4, 0), // exit_code
      len(5, Buffer.from('raw stdout')), // stdout_raw: not a digest
      len(6, digest(o, 12)),
      len(8, digest(e, 3)),
      // execution_metadata = 9 with nested fields, a fixed64 and a fixed32 of an unknown field
      len(9, Buffer.concat([str(1, 'worker'), len(2, Buffer.from([8, 1]))])),
      Buffer.from([...varint(20 * 8 + 1), 1, 2, 3, 4, 5, 6, 7, 8]),
      Buffer.from([...varint(21 * 8 + 5), 1, 2, 3, 4]),
    ]);
    expect(actionResultDigests(bytes)).toEqual([
      { hash: a, size: 1 },
      { hash: b, size: 300_000 },
      { hash: t, size: 77 },
      { hash: o, size: 12 },
      { hash: e, size: 3 },
    ]);
  });

  it('an empty result names nothing; empty blobs and repeats are not required twice', () => {
    expect(actionResultDigests(Buffer.alloc(0))).toEqual([]);
    const a = sha('a');
    expect(requiredBlobs([{ hash: a, size: 1 }, { hash: EMPTY_SHA256, size: 0 }, { hash: a, size: 1 }])).toEqual([{ hash: a, size: 1 }]);
    expect(() => requiredBlobs([{ hash: a, size: 1 }, { hash: a, size: 2 }])).toThrow(/two sizes/);
  });

  it('refuses bytes that are not an ActionResult, and digests that are not SHA-256', () => {
    const bad: Buffer[] = [
      Buffer.from([0x12, 0x05, 0x01]), // length past the end
      Buffer.from([0x80]), // truncated varint
      Buffer.from([0x13]), // start-group wire type
      Buffer.from([0x00, 0x00]), // field 0
      len(6, digest('ABCDEF', 1)), // not lowercase hex SHA-256
      len(6, digest(sha('x').toUpperCase(), 1)),
      len(6, Buffer.concat([str(1, sha('x')), Buffer.from([0x10, ...Array(9).fill(0xff), 0x01])])), // negative size (int64 -1)
      len(2, Buffer.concat([str(1, 'f'), len(2, int(2, 5))])), // digest without a hash
    ];
    for (const b of bad) {
      let thrown: unknown;
      try {
        actionResultDigests(b);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toMatchObject({ status: 400, code: 'invalid_action_result' });
    }
  });
});
