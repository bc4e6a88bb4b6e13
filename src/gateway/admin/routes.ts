/**
 * The admin API's routes, declared once: method, path (with `:name`
 * parameters), zod schemas for the path parameters, the query and the body,
 * the success status, and the {@link RegistryAdmin} operation each one calls.
 * The server (`server.ts`) dispatches and validates from this table; the
 * client (`client.ts`) builds its requests from it.
 *
 * Errors are `{"error": {code, message, hint}}` with the code's HTTP status;
 * a path parameter, query or body that fails its schema is a 400
 * `MTLS_BAD_ARGUMENT` naming the field.
 */
import { z } from 'zod';
import { AUDIT_REASONS, type AuditQuery, type Institution } from '../registry/types.js';
import { parseCidr } from '../registry/cidr.js';
import type { RegistryAdmin } from './operations.js';
import { parseSince } from './since.js';
import { toMtlsError } from '../../errors/index.js';

/** The HTTP methods the admin API serves. */
export type AdminMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * What a route's body is: a JSON object checked by a zod schema, a CA/CRL
 * upload (raw PEM/DER, or JSON `{pem}`), or nothing.
 */
export type BodySpec = z.ZodType | 'upload' | 'none';

/** The server-side value of a body: the schema's output, the upload's bytes, or nothing. */
export type BodyOutput<B extends BodySpec> = B extends z.ZodType
  ? z.output<B>
  : B extends 'upload'
    ? string | Buffer
    : undefined;

/** What a client sends as a body: the schema's input, an upload with its content type, or nothing. */
export type BodyInput<B extends BodySpec> = B extends z.ZodType
  ? z.input<B>
  : B extends 'upload'
    ? { type: string; data: string | Buffer }
    : undefined;

/** One admin API route. */
export interface AdminRoute<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends BodySpec = BodySpec,
  O = unknown,
> {
  method: AdminMethod;
  /** Path pattern, `:name` segments are parameters (percent-decoded before `params` sees them). */
  path: string;
  params: P;
  query: Q;
  body: B;
  /** Success status; 204 sends no body. */
  status: 200 | 201 | 204;
  /** The operation's result is sent as `{"items": result}`. */
  items?: true;
  /** A `Location` header for a created resource. */
  location?(result: O): string;
  /** Calls the operation with the validated request. */
  call(
    admin: RegistryAdmin,
    input: { params: z.output<P>; query: z.output<Q>; body: BodyOutput<B> },
  ): Promise<O>;
}

/** The request a client builds for a route (before encoding). */
export interface RouteRequest<R extends AdminRoute> {
  params: z.input<R['params']>;
  query?: z.input<R['query']>;
  body?: BodyInput<R['body']>;
}

/** The operation result of a route, as the client returns it. */
export type RouteResult<R> =
  R extends AdminRoute<z.ZodType, z.ZodType, BodySpec, infer O> ? O : never;

const route = <P extends z.ZodType, Q extends z.ZodType, B extends BodySpec, O>(
  r: AdminRoute<P, Q, B, O>,
): AdminRoute<P, Q, B, O> => r;

const none = z.object({});
const inst = z.object({ id: z.string() });
/** A numeric id in the path: decimal digits only, as the registry's ids are. */
const numericId = z
  .string()
  .regex(/^\d{1,15}$/, {
    error: (iss) => `must be a whole number (got ${JSON.stringify(iss.input)})`,
  })
  .transform(Number);
const upload = 'upload' as const;
const noBody = 'none' as const;
/** `?source=` labels an upload in the registry (default `upload`). */
const sourceQuery = z.object({ source: z.string().default('upload') });
/** Query values that must be present and non-empty, with the request to send when they are not. */
const required = (example: string) =>
  z.string({ error: `is missing; ${example}` }).min(1, { error: `is empty; ${example}` });

/** The JSON body of `PATCH /v1/institutions/:id`: only the status changes. */
const statusBody = z.strictObject(
  { status: z.enum(['active', 'suspended']) },
  {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? 'cannot be changed; only "status" (active|suspended) can be changed'
        : undefined,
  },
);

/** The JSON body of `PUT /v1/institutions/:id/request-rate` (checked by the registry, which names the field). */
const requestRateBody = z.strictObject({
  requestsPerSecond: z.number({
    error: 'is missing or not a number; e.g. {"requestsPerSecond": 100}',
  }),
  burst: z
    .number({ error: 'is not a number; e.g. {"requestsPerSecond": 100, "burst": 200}' })
    .optional(),
});

/** `POST …/ips`: `{cidr}` (or `{ip}`), `allowWideRange` to accept a block wider than the registry allows by default. */
const ipBody = z
  .object({
    cidr: z.string().optional(),
    ip: z.string().optional(),
    allowWideRange: z.boolean().optional(),
  })
  .transform((b, ctx) => {
    const cidr = b.cidr ?? b.ip;
    if (cidr === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['cidr'],
        message: 'is missing (an IP or CIDR string)',
      });
      return z.NEVER;
    }
    return { cidr, allowWideRange: b.allowWideRange === true };
  });

/** The audit filter: `since` (duration or ISO time), `institution`, `outcome`, `reason`, `requestId`, `limit`. */
const auditQuery = z
  .object({
    since: z
      .string()
      .transform((v, ctx) => {
        try {
          return parseSince(v);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: toMtlsError(e).message });
          return z.NEVER;
        }
      })
      .optional(),
    institution: z.string().optional(),
    outcome: z.enum(['accepted', 'rejected']).optional(),
    reason: z.enum(AUDIT_REASONS).optional(),
    requestId: z.string().optional(),
    limit: numericId.optional(),
  })
  .transform((q): AuditQuery => ({
    ...(q.since === undefined ? {} : { since: q.since }),
    ...(q.institution === undefined ? {} : { institutionId: q.institution }),
    ...(q.outcome === undefined ? {} : { outcome: q.outcome }),
    ...(q.reason === undefined ? {} : { reason: q.reason }),
    ...(q.requestId === undefined ? {} : { requestId: q.requestId }),
    ...(q.limit === undefined ? {} : { limit: q.limit }),
  }));

/** `DELETE /v1/audit?before=`: a duration back from now (`400d`) or an ISO time. */
const pruneQuery = z.object({
  before: required('give the cutoff: DELETE /v1/audit?before=400d (or an ISO time)').transform(
    (v, ctx) => {
      try {
        return parseSince(v, new Date(), 'before');
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: toMtlsError(e).message });
        return z.NEVER;
      }
    },
  ),
});

/** Every admin API route, by name. */
export const ADMIN_ROUTES = {
  listInstitutions: route({
    method: 'GET',
    path: '/v1/institutions',
    params: none,
    query: none,
    body: noBody,
    status: 200,
    items: true,
    call: (a) => a.listInstitutions(),
  }),
  createInstitution: route({
    method: 'POST',
    path: '/v1/institutions',
    params: none,
    query: none,
    body: z
      .object({ id: z.string(), name: z.string().optional() })
      .transform((b) => ({ id: b.id, name: b.name ?? b.id })),
    status: 201,
    location: (inst: Institution) => `/v1/institutions/${encodeURIComponent(inst.id)}`,
    call: (a, { body }) => a.createInstitution(body),
  }),
  getInstitution: route({
    method: 'GET',
    path: '/v1/institutions/:id',
    params: inst,
    query: none,
    body: noBody,
    status: 200,
    call: (a, { params }) => a.getInstitution(params.id),
  }),
  setInstitutionStatus: route({
    method: 'PATCH',
    path: '/v1/institutions/:id',
    params: inst,
    query: none,
    body: statusBody,
    status: 200,
    call: (a, { params, body }) => a.setInstitutionStatus(params.id, body.status),
  }),
  setInstitutionRequestRate: route({
    method: 'PUT',
    path: '/v1/institutions/:id/request-rate',
    params: inst,
    query: none,
    body: requestRateBody,
    status: 200,
    call: (a, { params, body }) => a.setInstitutionRequestRate(params.id, body),
  }),
  clearInstitutionRequestRate: route({
    method: 'DELETE',
    path: '/v1/institutions/:id/request-rate',
    params: inst,
    query: none,
    body: noBody,
    status: 200,
    call: (a, { params }) => a.setInstitutionRequestRate(params.id, null),
  }),
  deleteInstitution: route({
    method: 'DELETE',
    path: '/v1/institutions/:id',
    params: inst,
    query: none,
    body: noBody,
    status: 204,
    call: (a, { params }) => a.deleteInstitution(params.id),
  }),
  listCaChains: route({
    method: 'GET',
    path: '/v1/institutions/:id/cas',
    params: inst,
    query: none,
    body: noBody,
    status: 200,
    items: true,
    call: (a, { params }) => a.listCaChains(params.id),
  }),
  addCaChain: route({
    method: 'POST',
    path: '/v1/institutions/:id/cas',
    params: inst,
    query: sourceQuery,
    body: upload,
    status: 201,
    call: (a, { params, query, body }) => a.addCaChain(params.id, body, query.source),
  }),
  removeCaChain: route({
    method: 'DELETE',
    path: '/v1/institutions/:id/cas/:chainId',
    params: z.object({ id: z.string(), chainId: numericId }),
    query: none,
    body: noBody,
    status: 204,
    call: (a, { params }) => a.removeCaChain(params.id, params.chainId),
  }),
  listIps: route({
    method: 'GET',
    path: '/v1/institutions/:id/ips',
    params: inst,
    query: none,
    body: noBody,
    status: 200,
    items: true,
    call: (a, { params }) => a.listIps(params.id),
  }),
  addIp: route({
    method: 'POST',
    path: '/v1/institutions/:id/ips',
    params: inst,
    query: none,
    body: ipBody,
    status: 201,
    call: (a, { params, body }) =>
      a.addIp(params.id, body.cidr, { allowWideRange: body.allowWideRange }),
  }),
  removeIp: route({
    method: 'DELETE',
    path: '/v1/institutions/:id/ips',
    params: inst,
    query: z.object({
      cidr: required('give the IP/CIDR to remove: DELETE /v1/institutions/ID/ips?cidr=203.0.113.7'),
    }),
    body: noBody,
    status: 204,
    call: (a, { params, query }) => {
      // A malformed CIDR is the caller's 400, not a quiet "not found".
      parseCidr(query.cidr);
      return a.removeIp(params.id, query.cidr);
    },
  }),
  removeIpByPath: route({
    method: 'DELETE',
    path: '/v1/institutions/:id/ips/:cidr',
    params: z.object({ id: z.string(), cidr: z.string() }),
    query: none,
    body: noBody,
    status: 204,
    call: (a, { params }) => {
      parseCidr(params.cidr);
      return a.removeIp(params.id, params.cidr);
    },
  }),
  listCrls: route({
    method: 'GET',
    path: '/v1/institutions/:id/crls',
    params: inst,
    query: none,
    body: noBody,
    status: 200,
    items: true,
    call: (a, { params }) => a.listCrls(params.id),
  }),
  putCrls: route({
    method: 'PUT',
    path: '/v1/institutions/:id/crls',
    params: inst,
    query: sourceQuery,
    body: upload,
    status: 200,
    call: (a, { params, query, body }) => a.putCrls(params.id, body, query.source),
  }),
  removeCrl: route({
    method: 'DELETE',
    path: '/v1/institutions/:id/crls/:crlId',
    params: z.object({ id: z.string(), crlId: numericId }),
    query: none,
    body: noBody,
    status: 204,
    call: (a, { params }) => a.removeCrl(params.id, params.crlId),
  }),
  listCrlSources: route({
    method: 'GET',
    path: '/v1/institutions/:id/crl-urls',
    params: inst,
    query: none,
    body: noBody,
    status: 200,
    items: true,
    call: (a, { params }) => a.listCrlSources(params.id),
  }),
  addCrlSource: route({
    method: 'POST',
    path: '/v1/institutions/:id/crl-urls',
    params: inst,
    query: none,
    body: z.object({ url: z.string(), intervalSeconds: z.number().optional() }),
    status: 201,
    call: (a, { params, body }) => a.addCrlSource(params.id, body.url, body.intervalSeconds),
  }),
  removeCrlSource: route({
    method: 'DELETE',
    path: '/v1/institutions/:id/crl-urls',
    params: inst,
    query: z.object({
      url: required('give the CRL URL to remove: DELETE /v1/institutions/ID/crl-urls?url=http://…'),
    }),
    body: noBody,
    status: 204,
    call: (a, { params, query }) => a.removeCrlSource(params.id, query.url),
  }),
  refreshCrlSources: route({
    method: 'POST',
    path: '/v1/institutions/:id/crl-urls/refresh',
    params: inst,
    query: none,
    body: z.object({ url: z.string().optional() }),
    status: 200,
    items: true,
    call: (a, { params, body }) => a.refreshCrlSources(params.id, body.url),
  }),
  listAllCrlSources: route({
    method: 'GET',
    path: '/v1/crl-urls',
    params: none,
    query: none,
    body: noBody,
    status: 200,
    items: true,
    call: (a) => a.listCrlSources(),
  }),
  listRules: route({
    method: 'GET',
    path: '/v1/institutions/:id/rules',
    params: inst,
    query: none,
    body: noBody,
    status: 200,
    items: true,
    call: (a, { params }) => a.listRules(params.id),
  }),
  addRule: route({
    method: 'POST',
    path: '/v1/institutions/:id/rules',
    params: inst,
    query: none,
    body: z.object({
      kind: z.enum(['subject_cn', 'subject_o', 'fingerprint_sha256']),
      value: z.string(),
    }),
    status: 201,
    call: (a, { params, body }) => a.addRule(params.id, body),
  }),
  removeRule: route({
    method: 'DELETE',
    path: '/v1/institutions/:id/rules/:ruleId',
    params: z.object({ id: z.string(), ruleId: numericId }),
    query: none,
    body: noBody,
    status: 204,
    call: (a, { params }) => a.removeRule(params.id, params.ruleId),
  }),
  listAllCaChains: route({
    method: 'GET',
    path: '/v1/cas',
    params: none,
    query: none,
    body: noBody,
    status: 200,
    items: true,
    call: (a) => a.listCaChains(),
  }),
  listAllIps: route({
    method: 'GET',
    path: '/v1/ips',
    params: none,
    query: none,
    body: noBody,
    status: 200,
    items: true,
    call: (a) => a.listIps(),
  }),
  listAllCrls: route({
    method: 'GET',
    path: '/v1/crls',
    params: none,
    query: none,
    body: noBody,
    status: 200,
    items: true,
    call: (a) => a.listCrls(),
  }),
  listAllRules: route({
    method: 'GET',
    path: '/v1/rules',
    params: none,
    query: none,
    body: noBody,
    status: 200,
    items: true,
    call: (a) => a.listRules(),
  }),
  queryAudit: route({
    method: 'GET',
    path: '/v1/audit',
    params: none,
    query: auditQuery,
    body: noBody,
    status: 200,
    items: true,
    call: (a, { query }) => a.queryAudit(query),
  }),
  pruneAudit: route({
    method: 'DELETE',
    path: '/v1/audit',
    params: none,
    query: pruneQuery,
    body: noBody,
    status: 200,
    call: (a, { query }) => a.pruneAudit(query.before),
  }),
};

/** A route name. */
export type AdminRouteName = keyof typeof ADMIN_ROUTES;

/** A route with its path compiled to a matcher. */
interface CompiledRoute {
  route: AdminRoute;
  pattern: RegExp;
  names: string[];
}

const compile = (route: AdminRoute): CompiledRoute => {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((seg) => {
      if (!seg.startsWith(':')) return seg.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
      names.push(seg.slice(1));
      return '([^/]+)';
    })
    .join('/');
  return { route, pattern: new RegExp(`^${source}$`), names };
};

const COMPILED: readonly CompiledRoute[] = Object.values<AdminRoute>(ADMIN_ROUTES).map(compile);

/** What {@link matchRoute} found for a path and method. */
export type RouteMatch =
  | { kind: 'found'; route: AdminRoute; params: Record<string, string> }
  /** The path exists, the method does not: answer 405 with `Allow`. */
  | { kind: 'method'; allowed: AdminMethod[] }
  | { kind: 'none' };

/**
 * Finds the route for a request path (still percent-encoded) and method.
 * @throws URIError when a parameter is not valid percent-encoding
 */
export function matchRoute(method: string, path: string): RouteMatch {
  const allowed = new Set<AdminMethod>();
  for (const c of COMPILED) {
    const m = c.pattern.exec(path);
    if (!m) continue;
    if (c.route.method !== method) {
      allowed.add(c.route.method);
      continue;
    }
    const params: Record<string, string> = {};
    c.names.forEach((name, i) => {
      params[name] = decodeURIComponent(m[i + 1] ?? '');
    });
    return { kind: 'found', route: c.route, params };
  }
  return allowed.size > 0 ? { kind: 'method', allowed: [...allowed] } : { kind: 'none' };
}

/** The path of a route with its parameters filled in (each percent-encoded). */
export function routePath(route: AdminRoute, params: unknown): string {
  const values = new Map(Object.entries(params ?? {}));
  return route.path.replace(/:([A-Za-z]+)/g, (_m, name: string) =>
    encodeURIComponent(String(values.get(name))),
  );
}

/**
 * Default messages for schema failures, phrased to follow the field name
 * ("\"id\" must be a string"); a schema's own `error` wins over these.
 */
const issueText = (iss: z.core.$ZodRawIssue): string | undefined => {
  switch (iss.code) {
    case 'invalid_type':
      return iss.input === undefined
        ? `is missing (a ${iss.expected})`
        : `must be a ${iss.expected}`;
    case 'invalid_value':
      return `must be one of ${iss.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return 'is not accepted here';
    default:
      return undefined;
  }
};

/** Where a failing value was: the label put before its field name. */
export type RequestPart = 'path parameter' | 'query parameter' | 'body field';

/** A schema failure, as the API reports it: the field and the sentence naming it. */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * Validates one part of a request against its schema.
 * @returns the parsed value, or the first problem naming its field
 */
export function validatePart<S extends z.ZodType>(
  schema: S,
  value: unknown,
  part: RequestPart,
): { ok: true; value: z.output<S> } | { ok: false; problem: FieldProblem } {
  const r = schema.safeParse(value, { error: issueText });
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  const field =
    issue === undefined
      ? part
      : issue.code === 'unrecognized_keys'
        ? issue.keys.join(', ')
        : issue.path.map(String).join('.');
  const text = issue?.message ?? 'is not valid';
  return { ok: false, problem: { field, message: `${part} "${field}" ${text}` } };
}
