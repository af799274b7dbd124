/*
 * How a Velox server reads a BuildRequest, for the stand-in (builds-velox-stand-in.ts). Follows
 * roadrunner-server/velox api/request/v1/request.proto (master, and fields 1-5 only at the released
 * tag v2025.2-beta.2), decoded as connect-go decodes JSON (protojson with DiscardUnknown: true) and
 * validated as connectrpc.com/validate does (protovalidate, every violation reported).
 */

export type VeloxGeneration = 'v3' | 'released';

export interface DecodedRequest {
  request_id: string;
  rr_version: string;
  force_rebuild: boolean;
  target_platform: { os: string; arch: string } | null;
  plugins: { module_name: string; tag: string }[];
  replaces: { old: string; new: string }[];
  excludes: { module: string; version: string }[];
  race: boolean;
  debug: boolean;
}

/** protojson accepts the proto name and the lowerCamelCase JSON name of every field. */
type FieldKind = 'string' | 'bool' | 'platform' | 'plugins' | 'replaces' | 'excludes';
const TOP_FIELDS: readonly (readonly [keyof DecodedRequest, string, FieldKind, number])[] = [
  ['request_id', 'requestId', 'string', 1],
  ['rr_version', 'rrVersion', 'string', 2],
  ['force_rebuild', 'forceRebuild', 'bool', 3],
  ['target_platform', 'targetPlatform', 'platform', 4],
  ['plugins', 'plugins', 'plugins', 5],
  ['replaces', 'replaces', 'replaces', 6],
  ['excludes', 'excludes', 'excludes', 7],
  ['race', 'race', 'bool', 8],
  ['debug', 'debug', 'bool', 9],
];

export class DecodeError extends Error {}

function field(obj: Record<string, unknown>, proto: string, json: string): unknown {
  const hasProto = Object.hasOwn(obj, proto);
  const hasJson = proto !== json && Object.hasOwn(obj, json);
  if (hasProto && hasJson) throw new DecodeError(`proto: duplicate field "${json}"`);
  return hasProto ? obj[proto] : obj[json];
}

function str(v: unknown, name: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new DecodeError(`proto: invalid value for string field ${name}: ${JSON.stringify(v)}`);
  return v;
}

function bool(v: unknown, name: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new DecodeError(`proto: invalid value for bool field ${name}: ${JSON.stringify(v)}`);
  return v;
}

function object(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DecodeError(`proto: invalid value for message field ${name}`);
  return v as Record<string, unknown>;
}

function list<T>(v: unknown, name: string, item: (o: Record<string, unknown>) => T): T[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new DecodeError(`proto: invalid value for repeated field ${name}`);
  return v.map((o) => item(object(o, name)));
}

/** The message a server of `generation` sees: fields it does not know are dropped silently. */
export function decodeBuildRequest(body: unknown, generation: VeloxGeneration): DecodedRequest {
  const obj = object(body, 'BuildRequest');
  const out: DecodedRequest = {
    request_id: '',
    rr_version: '',
    force_rebuild: false,
    target_platform: null,
    plugins: [],
    replaces: [],
    excludes: [],
    race: false,
    debug: false,
  };
  for (const [proto, json, kind, number] of TOP_FIELDS) {
    if (generation === 'released' && number > 5) continue;
    const v = field(obj, proto, json);
    const o = out as unknown as Record<string, unknown>;
    switch (kind) {
      case 'string':
        o[proto] = str(v, json);
        break;
      case 'bool':
        o[proto] = bool(v, json);
        break;
      case 'platform':
        o[proto] = v === undefined || v === null ? null : { os: str(object(v, json).os, 'os'), arch: str(object(v, json).arch, 'arch') };
        break;
      case 'plugins':
        o[proto] = list(v, json, (p) => ({ module_name: str(field(p, 'module_name', 'moduleName'), 'moduleName'), tag: str(p.tag, 'tag') }));
        break;
      case 'replaces':
        o[proto] = list(v, json, (r) => ({ old: str(r.old, 'old'), new: str(r.new, 'new') }));
        break;
      case 'excludes':
        o[proto] = list(v, json, (e) => ({ module: str(e.module, 'module'), version: str(e.version, 'version') }));
        break;
    }
  }
  return out;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** request.proto's CEL rule `rr_version.format` (RE2, partial-match semantics with both anchors). */
const RR_VERSION = /^(v\d+\.\d+\.\d+.*|master|[a-f0-9]{7,40})$/;
const RR_VERSION_MESSAGE =
  "rr_version must be a semantic version starting with 'v' (e.g., v2025.1.0), 'master', or a git commit SHA (7-40 hex characters)";

/**
 * protovalidate's violations, in field order. proto3 strings have no presence, so their rules run
 * on empty values too: a request without `request_id` fails `string.uuid`.
 */
export function violations(req: DecodedRequest, generation: VeloxGeneration): string[] {
  const out: string[] = [];
  const required = (path: string, value: string | unknown[]) => {
    if (value.length === 0) out.push(`${path}: value is required [required]`);
  };
  if (!UUID.test(req.request_id)) out.push('request_id: value must be a valid UUID [string.uuid]');
  required('rr_version', req.rr_version);
  if (!RR_VERSION.test(req.rr_version)) out.push(`rr_version: ${RR_VERSION_MESSAGE} [rr_version.format]`);
  required('plugins', req.plugins);
  req.plugins.forEach((p, i) => {
    required(`plugins[${i}].module_name`, p.module_name);
    required(`plugins[${i}].tag`, p.tag);
  });
  if (generation === 'v3') {
    req.replaces.forEach((r, i) => {
      required(`replaces[${i}].new`, r.new);
      required(`replaces[${i}].old`, r.old);
    });
    req.excludes.forEach((e, i) => {
      required(`excludes[${i}].module`, e.module);
      required(`excludes[${i}].version`, e.version);
    });
  }
  return out;
}

/** protovalidate's ValidationError text, as connect-go sends it in the error's `message`. */
export function validationMessage(found: readonly string[]): string {
  return `validation error:${found.map((v) => `\n - ${v}`).join('')}`;
}
