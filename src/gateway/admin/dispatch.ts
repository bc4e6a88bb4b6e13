/**
 * The admin API's request dispatch: finds the route in the table
 * (`routes.ts`), reads and validates the path parameters, the query and the
 * body against its schemas, and calls its operation. HTTP errors are thrown
 * as {@link HttpError} with the status to answer.
 */
import type { IncomingMessage } from 'node:http';
import { MtlsError, type ErrorCode } from '../../errors/index.js';
import type { RegistryAdmin } from './operations.js';
import { matchRoute, validatePart, type AdminRoute, type RequestPart } from './routes.js';
import { z } from 'zod';

/** An error with the HTTP status it is answered with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: MtlsError,
    /** Headers the error answer carries (`Allow` on a 405). */
    readonly headers: Record<string, string> = {},
  ) {
    super(error.message);
  }
}

/** An {@link HttpError} with a catalogue code, a message and an optional hint. */
export const fail = (
  status: number,
  code: ErrorCode,
  message: string,
  hint?: string,
  subject?: string,
): HttpError =>
  new HttpError(
    status,
    new MtlsError(code, message, {
      ...(hint ? { hint } : {}),
      ...(subject ? { subject } : {}),
    }),
  );

/** What a route answered: the status, the JSON body (none for 204) and extra headers. */
export interface RouteResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit)
    throw fail(
      413,
      'MTLS_BAD_ARGUMENT',
      `the request body (${declared} bytes) exceeds the admin API limit of ${limit} bytes`,
    );
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    // An IncomingMessage without setEncoding() yields Buffers.
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit)
      throw fail(
        413,
        'MTLS_BAD_ARGUMENT',
        `the request body exceeds the admin API limit of ${limit} bytes`,
      );
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

const contentType = (req: IncomingMessage): string =>
  (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';

async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const body = await readBody(req, limit);
  if (contentType(req) !== 'application/json')
    throw fail(
      415,
      'MTLS_BAD_ARGUMENT',
      `expected Content-Type application/json, got "${req.headers['content-type'] ?? ''}"`,
    );
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw fail(
      400,
      'MTLS_BAD_ARGUMENT',
      `the request body is not a JSON object (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  const obj = z.record(z.string(), z.unknown()).safeParse(v);
  if (!obj.success) throw fail(400, 'MTLS_BAD_ARGUMENT', 'the request body is not a JSON object');
  return obj.data;
}

const UPLOAD_TYPES = new Set([
  'application/x-pem-file',
  'application/pkix-cert',
  'application/pkix-crl',
  'application/octet-stream',
  'text/plain',
]);

const pemBody = z.object({ pem: z.string() });

/** A CA or CRL upload: raw PEM/DER, or JSON {"pem": "..."}. */
async function readUpload(req: IncomingMessage, limit: number): Promise<string | Buffer> {
  const type = contentType(req);
  if (type === 'application/json')
    return valid(pemBody, await readJson(req, limit), 'body field').pem;
  if (!UPLOAD_TYPES.has(type)) {
    throw fail(
      415,
      'MTLS_BAD_ARGUMENT',
      `unsupported Content-Type "${type}"`,
      `Send ${[...UPLOAD_TYPES].join(', ')} or application/json {"pem": …}.`,
    );
  }
  const body = await readBody(req, limit);
  if (body.length === 0) throw fail(400, 'MTLS_BAD_ARGUMENT', 'the upload is empty');
  return body;
}

/** A value checked against its schema, or a 400 naming the field. */
function valid<S extends z.ZodType>(schema: S, value: unknown, part: RequestPart): z.output<S> {
  const r = validatePart(schema, value, part);
  if (r.ok) return r.value;
  throw fail(400, 'MTLS_BAD_ARGUMENT', r.problem.message, undefined, r.problem.field);
}

/** Reads and checks the body a route declares. */
async function readRouteBody(
  route: AdminRoute,
  req: IncomingMessage,
  limit: number,
): Promise<unknown> {
  if (route.body === 'none') return undefined;
  if (route.body === 'upload') return readUpload(req, limit);
  return valid(route.body, await readJson(req, limit), 'body field');
}

/**
 * Serves one authenticated `/v1` request from the route table.
 * @throws HttpError 404 (no such path), 405 (with the allowed methods), 4xx for bad input
 */
export async function dispatch(
  req: IncomingMessage,
  url: URL,
  admin: RegistryAdmin,
  bodyLimit: number,
): Promise<RouteResponse> {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  let match: ReturnType<typeof matchRoute>;
  try {
    match = matchRoute(method, path);
  } catch {
    throw fail(400, 'MTLS_BAD_ARGUMENT', `the path ${path} is not valid percent-encoding`);
  }
  if (match.kind === 'method') {
    throw new HttpError(
      405,
      new MtlsError('MTLS_USAGE', `${method} is not allowed on ${path}`, {
        hint: `Use ${match.allowed.join(', ')}.`,
      }),
      // RFC 9110 §15.5.6: a 405 lists the methods the resource supports.
      { allow: match.allowed.join(', ') },
    );
  }
  if (match.kind === 'none') {
    throw fail(
      404,
      'MTLS_NOT_FOUND',
      `no admin API resource at ${path}`,
      'See the admin API routes under /v1 (institutions, cas, ips, crls, rules, audit).',
    );
  }
  const { route } = match;
  const params = valid(route.params, match.params, 'path parameter');
  // An empty `?x=` counts as absent, as it always has.
  const rawQuery = Object.fromEntries([...url.searchParams].filter(([, v]) => v !== ''));
  const query = valid(route.query, rawQuery, 'query parameter');
  const body = await readRouteBody(route, req, bodyLimit);
  const result = await route.call(admin, { params, query, body });
  if (route.status === 204) return { status: 204 };
  return {
    status: route.status,
    body: route.items ? { items: result } : result,
    ...(route.location ? { headers: { location: route.location(result) } } : {}),
  };
}
