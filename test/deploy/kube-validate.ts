import * as models from '@kubernetes/client-node/dist/gen/models/all.js';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as read from YAML. */
export type KubeObject = { apiVersion: string; kind: string; metadata?: { name?: string }; [key: string]: unknown };

export function readManifests(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((d): d is KubeObject => d !== null);
}

type Attribute = { name: string; baseName: string; type: string };
const typeMaps = models as unknown as Record<string, { attributeTypeMap?: Attribute[] } | undefined>;
const LEAVES = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);

/**
 * Fields the Kubernetes API types do not have, as `kubectl apply --validate=strict` would reject
 * them. The API's types come from @kubernetes/client-node's generated models (their attribute maps
 * list every field of every type); kubernetes-models' schemas check types and required fields but
 * let unknown fields through.
 */
function unknownFields(value: unknown, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined || LEAVES.has(type)) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === 'object') for (const [k, v] of Object.entries(value)) unknownFields(v, map[1]!, `${path}.${k}`, out);
    return;
  }
  const attrs = typeMaps[type]?.attributeTypeMap;
  if (!attrs || typeof value !== 'object' || Array.isArray(value)) return; // enums and scalars
  for (const [key, v] of Object.entries(value)) {
    const attr = attrs.find((a) => a.baseName === key);
    if (!attr) out.push(`${path}.${key}: unknown field (${type})`);
    else unknownFields(v, attr.type, `${path}.${key}`, out);
  }
}

async function modelFor(obj: KubeObject): Promise<(new (data: unknown) => { validate(): void }) | undefined> {
  const path = obj.apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${obj.apiVersion}/${obj.kind}`
    : `kubernetes-models/${obj.apiVersion}/${obj.kind}`;
  try {
    const mod = (await import(path)) as Record<string, new (data: unknown) => { validate(): void }>;
    return mod[obj.kind];
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' || /Cannot find module/.test(String(err))) return undefined;
    throw err;
  }
}

/** Every problem of one object: schema (types, required fields, formats) and unknown fields. */
export async function validateObject(obj: KubeObject): Promise<string[]> {
  const where = `${obj.kind}/${obj.metadata?.name ?? '?'}`;
  const Model = await modelFor(obj);
  if (!Model) return [`${where}: no schema for ${obj.apiVersion} ${obj.kind}`];
  const problems: string[] = [];
  try {
    new Model(obj).validate();
  } catch (err) {
    problems.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const version = /^(?:[^/]+\/)?(v\d+\w*)$/.exec(obj.apiVersion)?.[1] ?? '';
  const type = `${version.charAt(0).toUpperCase()}${version.slice(1)}${obj.kind}`;
  if (typeMaps[type]?.attributeTypeMap) {
    const unknown: string[] = [];
    unknownFields(obj, type, where, unknown);
    problems.push(...unknown);
  } else if (!obj.apiVersion.startsWith('monitoring.coreos.com/')) {
    problems.push(`${where}: no field list for ${type}`);
  }
  return problems;
}

/** One object after another: jest's ES module loader fails on two concurrent imports of one model. */
export async function validateManifests(objects: KubeObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const obj of objects) problems.push(...(await validateObject(obj)));
  return problems;
}
