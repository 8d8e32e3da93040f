/**
 * The checks a master makes on a request to `/api/v1/scheduler` before a call
 * does anything, in the master's order and with its messages (Mesos
 * `Master::Http::scheduler`): method, content type, JSON, conversion into a
 * Call, call validation, `Accept`, and for calls other than SUBSCRIBE the
 * caller (principal, subscribed, stream id). Pure: the
 * answer to send, or what the call is.
 *
 * @module
 */
import { type Call, CallParseError, convertCall, validateCall } from "./call.ts";
import type { Framework } from "./model.ts";
import { acceptsJson, textResponse } from "./responses.ts";

/** What the scheduler endpoint reads of a request (an `Http1Request` of `http1.ts`). */
export interface SchedulerRequest {
  readonly method: string;
  /** A header's value by lower-case name, or null. */
  header(name: string): string | null;
  /** The body as text. */
  text(): string;
}

/** A call read from a request, with the text to record for it. */
export interface ReadCall {
  call: Call;
  /** The body as received, or re-serialized on one line when it held newlines. */
  record: string;
}

/**
 * Checks method and content type, then parses and converts the body: the call,
 * or the answer (405, 400, 415) when it is not one.
 */
export function readCall(req: SchedulerRequest): ReadCall | Response {
  if (req.method !== "POST") {
    return textResponse(
      405,
      `405 Method Not Allowed. Expecting one of { 'POST' }, but received '${req.method}'.`,
      { allow: "POST" },
    );
  }
  const contentType = req.header("content-type");
  if (contentType === null) {
    return textResponse(400, "Expecting 'Content-Type' to be present");
  }
  if (contentType !== "application/json") {
    // Protobuf is not implemented: answered like any unsupported type.
    return textResponse(
      415,
      "Expecting 'Content-Type' of application/json or application/x-protobuf",
    );
  }
  const raw = req.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    return textResponse(400, `Failed to parse body into JSON: ${(err as Error).message}`);
  }
  try {
    const call = convertCall(parsed);
    return { call, record: raw.includes("\n") ? JSON.stringify(parsed) : raw };
  } catch (err) {
    if (err instanceof CallParseError) {
      return textResponse(400, `Failed to convert JSON into Call protobuf: ${err.message}`);
    }
    throw err;
  }
}

/**
 * Validates a converted call (`principal` is the authenticated one, if any), the
 * `Accept` header of streaming calls and the absence of a stream id on
 * SUBSCRIBE: the answer (400, 406), or null to go on.
 */
export function checkCall(call: Call, req: SchedulerRequest, principal?: string): Response | null {
  const invalid = validateCall(call, principal);
  if (invalid) return textResponse(400, `Failed to validate scheduler::Call: ${invalid}`);
  if (
    (call.type === "SUBSCRIBE" || call.type === "RECONCILE_OPERATIONS") &&
    !acceptsJson(req.header("accept"))
  ) {
    return textResponse(
      406,
      "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
    );
  }
  if (call.type === "SUBSCRIBE" && req.header("mesos-stream-id") !== null) {
    return textResponse(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
  }
  return null;
}

/**
 * For a call other than SUBSCRIBE from the known framework `fw` (an unknown one
 * is a 400 `Framework cannot be found` first): the answer when the caller may
 * not make it (400 principal mismatch, 403 not subscribed, 400 missing or wrong
 * stream id), or null.
 */
export function checkCaller(
  fw: Framework,
  req: SchedulerRequest,
  principal?: string,
): Response | null {
  if (
    principal !== undefined && fw.info.principal !== undefined && fw.info.principal !== principal
  ) {
    return textResponse(
      400,
      `Authenticated principal '${principal}' does not match principal '${fw.info.principal}' set in \`FrameworkInfo\``,
    );
  }
  if (!fw.sub) return textResponse(403, "Framework is not subscribed");
  const streamId = req.header("mesos-stream-id");
  if (streamId === null) {
    return textResponse(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
  }
  if (streamId !== fw.sub.streamId) {
    return textResponse(
      400,
      `The stream ID '${streamId}' included in this request didn't match the stream ID currently associated with framework ID ${fw.id}`,
    );
  }
  return null;
}
