/**
 * The OpenAPI 3.1 document, generated from the zod schemas of the task model.
 *
 * @module
 */
import { z } from "zod";
import { TaskRequestV0Schema, TaskRequestV1Schema } from "../task/mod.ts";

const ErrorDocumentSchema = z.object({
  error: z.string(),
  message: z.string(),
  details: z.array(z.object({ path: z.string(), problem: z.string() })).optional(),
});

function schema(s: z.ZodType, io: "input" | "output" = "input") {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io, unrepresentable: "any" }) as
    & Record<string, unknown>
    & { $schema?: string };
  return rest;
}

const jsonContent = (ref: string) => ({
  "application/json": { schema: { $ref: `#/components/schemas/${ref}` } },
});

const errorResponse = (description: string) => ({
  description,
  content: jsonContent("ErrorDocument"),
});

const idParam = {
  name: "taskId",
  in: "path",
  required: true,
  schema: { type: "string" },
  description: "Task id, `eremetic-task.<uuid>`",
};

type Operation = Record<string, unknown>;

/** `Last-Event-ID` as a header, or as a query parameter for clients that cannot set headers. */
const lastEventIdParams = (what: string) => [
  {
    name: "Last-Event-ID",
    in: "header",
    required: false,
    schema: { type: "integer", minimum: 0 },
    description: `Resume after this id (${what}); EventSource sends it when it reconnects`,
  },
  {
    name: "last_event_id",
    in: "query",
    required: false,
    schema: { type: "integer", minimum: 0 },
    description: "The same as the `Last-Event-ID` header",
  },
];

const sseResponse = (description: string) => ({
  description,
  content: { "text/event-stream": { schema: { type: "string" } } },
});

const outputParams = [
  {
    name: "offset",
    in: "query",
    schema: { type: "integer", minimum: 0 },
    description: "First byte; with `length` alone, the last `length` bytes",
  },
  { name: "length", in: "query", schema: { type: "integer", minimum: 0 } },
  {
    name: "follow",
    in: "query",
    schema: { type: "string", enum: ["1", "true"] },
    description: "Stream new output as Server-Sent Events until the task has finished: " +
      "`output` events with `id` = the byte offset after the chunk and data `{offset, text}`, " +
      "then `end` (`{}`). Resumes from `Last-Event-ID` (a byte offset). v1 routes only.",
  },
  ...lastEventIdParams("a byte offset, with `follow`"),
];

const outputResponses = {
  "200": {
    description: "text/plain; with `follow`, text/event-stream",
    content: {
      "text/plain": { schema: { type: "string" } },
      "text/event-stream": { schema: { type: "string" } },
    },
  },
  "204": { description: "No sandbox yet (without `follow`)" },
  "404": { description: "`null` (with `follow`: unknown task)" },
  "502": errorResponse("The agent could not be reached"),
};

/** Parameters only the v1 routes understand. */
const V1_ONLY_PARAMS = new Set(["follow", "Last-Event-ID", "last_event_id"]);

/** The legacy twin of a v1 path: v0 bodies, `deprecated`, the `Warning: 299` header. */
function legacyOf(ops: Record<string, Operation>): Record<string, Operation> {
  return Object.fromEntries(
    Object.entries(ops).map(([method, op]) => [method, {
      ...op,
      ...(Array.isArray(op.parameters)
        ? {
          parameters: op.parameters.filter((p: { name: string }) => !V1_ONLY_PARAMS.has(p.name)),
        }
        : {}),
      deprecated: true,
      ...(op.requestBody
        ? { requestBody: { required: true, content: jsonContent("TaskRequestV0") } }
        : {}),
      description: "Legacy route: v0 field names; every response carries " +
        "`Warning: 299 - 'Deprecated API'`.",
    }]),
  );
}

/** Builds the OpenAPI document (cached by the caller). */
export function openApiDocument(version: string) {
  const document = {
    openapi: "3.1.0",
    info: {
      title: "Eremetic",
      version,
      description: "Run one-shot container tasks on Apache Mesos. Legacy `/task` routes mirror " +
        "`/api/v1/task` with the v0 field names and a `Warning: 299` header.",
    },
    paths: {
      "/api/v1/task": {
        post: {
          summary: "Submit a task",
          parameters: [{
            name: "Idempotency-Key",
            in: "header",
            required: false,
            schema: { type: "string", maxLength: 255 },
            description: "Repeating a request with the same key and body returns the same task id",
          }],
          requestBody: { required: true, content: jsonContent("TaskRequestV1") },
          responses: {
            "202": {
              description: "Accepted and durable; body is the task id as a JSON string",
              headers: { Location: { schema: { type: "string" } } },
              content: { "application/json": { schema: { type: "string" } } },
            },
            "413": errorResponse("Body over 1 MiB, or task document over the store's limit"),
            "422": errorResponse("Malformed JSON, or a task that can never run"),
            "503": errorResponse("Queue full or store unavailable"),
          },
        },
        get: {
          summary: "List tasks in submission order",
          parameters: [
            {
              name: "state",
              in: "query",
              schema: { type: "string" },
              description:
                "Comma-separated `active`, `queued`, `terminated`; default `active,queued`; empty = all",
            },
            { name: "name", in: "query", schema: { type: "string" } },
            {
              name: "label",
              in: "query",
              schema: { type: "string" },
              description: "`key` or `key=value`",
            },
            { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 10000 } },
            {
              name: "cursor",
              in: "query",
              schema: { type: "string" },
              description: "From the `X-Next-Cursor` header of the previous page",
            },
          ],
          responses: {
            "200": {
              description: "Tasks (v1 shape); `X-Next-Cursor` header when more exist",
              content: {
                "application/json": { schema: { type: "array", items: { type: "object" } } },
              },
            },
          },
        },
      },
      "/api/v1/task/{taskId}": {
        get: {
          summary: "One task",
          parameters: [idParam],
          responses: {
            "200": { description: "The task (v1 shape)" },
            "404": { description: "`null`" },
          },
        },
        delete: {
          summary: "Delete a finished task",
          parameters: [idParam],
          responses: {
            "202": { description: '`""`' },
            "404": { description: "`null`" },
            "409": { description: "The task has not finished" },
          },
        },
      },
      "/api/v1/task/{taskId}/kill": {
        post: {
          summary: "Kill a task",
          parameters: [idParam],
          responses: {
            "202": { description: '`""`' },
            "404": { description: "`null`" },
            "409": errorResponse("The task has already finished"),
          },
        },
      },
      "/api/v1/task/{taskId}/stdout": {
        get: {
          summary: "The task's stdout from its Mesos sandbox; with `follow=1`, a live stream",
          parameters: [idParam, ...outputParams],
          responses: outputResponses,
        },
      },
      "/api/v1/task/{taskId}/stderr": {
        get: {
          summary: "The task's stderr; with `follow=1`, a live stream",
          parameters: [idParam, ...outputParams],
          responses: outputResponses,
        },
      },
      "/api/v1/task/{taskId}/events": {
        get: {
          summary: "The task's status history, then its changes, as Server-Sent Events",
          description: "One `status` event per entry of the stored history, `id` = its 1-based " +
            "position, data `{task_id, state, time, terminal}`; after the final state an `end` " +
            "event (`{}`) and the stream closes. Resumes after `Last-Event-ID`. Keep-alive " +
            "comments every 15 s.",
          parameters: [idParam, ...lastEventIdParams("a position in the status history")],
          responses: {
            "200": sseResponse("`status` events, then `end`"),
            "204": { description: "Resumed at or past the final state: nothing more will come" },
            "404": { description: "`null`" },
            "422": errorResponse("Malformed Last-Event-ID"),
          },
        },
      },
      "/api/v1/events": {
        get: {
          summary: "Every task state change, as Server-Sent Events",
          description: "`status` events with data `{task_id, name, state, time, terminal}` and " +
            "increasing ids. Resumes after `Last-Event-ID` from a buffer of recent changes; when " +
            "the id is older than the buffer (or from an earlier run of the server) the stream " +
            "starts with a `reset` event (`{}`): reload, then apply the events that follow.",
          parameters: lastEventIdParams("an id from this stream"),
          responses: {
            "200": sseResponse("`status` events (a `reset` first when resumption is impossible)"),
            "422": errorResponse("Malformed Last-Event-ID"),
          },
        },
      },
      "/api/v1/version": {
        get: {
          summary: "Version as a JSON string",
          responses: { "200": { description: '"x.y.z"' } },
        },
      },
      "/api/v1/health": {
        get: {
          summary: "Store and Mesos connection state, and the high-availability role " +
            "(`ha`: leader, follower or standalone, and the leader's address; never behind auth)",
          responses: {
            "200": { description: "healthy" },
            "503": { description: "store unavailable" },
          },
        },
      },
      "/api/v1/openapi.json": {
        get: {
          summary: "This document (never behind auth)",
          responses: { "200": { description: "OpenAPI 3.1 JSON" } },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics",
          responses: { "200": { description: "text format 0.0.4" } },
        },
      },
    } as Record<string, Record<string, Operation>>,
    components: {
      schemas: {
        TaskRequestV1: schema(TaskRequestV1Schema),
        TaskRequestV0: schema(TaskRequestV0Schema),
        ErrorDocument: schema(ErrorDocumentSchema),
      },
      securitySchemes: { basic: { type: "http", scheme: "basic" } },
    },
  };
  for (const [path, ops] of Object.entries(document.paths)) {
    // The live streams have no legacy twin.
    if (path.endsWith("/events")) continue;
    if (path.startsWith("/api/v1/task") || path === "/api/v1/version") {
      document.paths[path.slice("/api/v1".length)] = legacyOf(ops);
    }
  }
  return document;
}
