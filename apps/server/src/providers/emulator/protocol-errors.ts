/**
 * Error bodies in each upstream's own shape. Handlers throw `Reject(kind)`; the kind is worded
 * per protocol here, so one validation rule answers correctly on every endpoint.
 */

/** Which wire protocol an endpoint speaks. `oss` is the image-file host (XML errors). */
export type Protocol = 'native' | 'compat' | 'moonshot' | 'oss'

export type RejectKind =
  | 'invalid_parameter'
  | 'not_support_thinking'
  | 'data_inspection_input'
  | 'data_inspection_output'
  | 'model_not_found'
  | 'invalid_api_key'
  | 'access_denied'
  | 'url_not_found'
  | 'too_large'
  | 'unsupported_operation'
  | 'timeout'
  | 'rate_limited'
  | 'internal'
  | 'overloaded'

interface Wording {
  status: number
  native: { code: string; message: string }
  compat: { code: string; type: string; message: string }
  moonshot: { type: string; message: string }
}

const WORDING: Record<RejectKind, Wording> = {
  invalid_parameter: {
    status: 400,
    native: { code: 'InvalidParameter', message: 'Invalid parameter.' },
    compat: { code: 'invalid_parameter_error', type: 'invalid_request_error', message: 'Invalid parameter.' },
    moonshot: { type: 'invalid_request_error', message: 'Invalid request' },
  },
  not_support_thinking: {
    status: 400,
    native: { code: 'InvalidParameter.NotSupportEnableThinking', message: 'The model does not support enable_thinking.' },
    compat: { code: 'InvalidParameter.NotSupportEnableThinking', type: 'invalid_request_error', message: 'The model does not support enable_thinking.' },
    moonshot: { type: 'invalid_request_error', message: 'The model does not support thinking.' },
  },
  data_inspection_input: {
    status: 400,
    native: { code: 'DataInspectionFailed', message: 'Input data may contain inappropriate content.' },
    compat: { code: 'data_inspection_failed', type: 'data_inspection_failed', message: 'Input data may contain inappropriate content.' },
    moonshot: { type: 'content_filter', message: 'The request was rejected because it was considered high risk' },
  },
  data_inspection_output: {
    status: 400,
    native: { code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' },
    compat: { code: 'data_inspection_failed', type: 'data_inspection_failed', message: 'Output data may contain inappropriate content.' },
    moonshot: { type: 'content_filter', message: 'The response was rejected because it was considered high risk' },
  },
  model_not_found: {
    status: 404,
    native: { code: 'ModelNotFound', message: 'Model not exist.' },
    compat: { code: 'model_not_found', type: 'invalid_request_error', message: 'The model does not exist or you do not have access to it.' },
    moonshot: { type: 'resource_not_found_error', message: 'Not found the model or Permission denied' },
  },
  invalid_api_key: {
    status: 401,
    native: { code: 'InvalidApiKey', message: 'Invalid API-key provided.' },
    compat: { code: 'invalid_api_key', type: 'invalid_request_error', message: 'Incorrect API key provided. ' },
    moonshot: { type: 'invalid_authentication_error', message: 'Invalid Authentication' },
  },
  access_denied: {
    status: 403,
    native: { code: 'AccessDenied', message: 'Access denied.' },
    compat: { code: 'access_denied', type: 'access_denied', message: 'Access denied.' },
    moonshot: { type: 'permission_denied_error', message: 'Permission denied' },
  },
  url_not_found: {
    status: 404,
    native: { code: 'NotFound', message: 'Requested URL not found.' },
    compat: { code: 'not_found', type: 'invalid_request_error', message: 'Requested URL not found.' },
    moonshot: { type: 'resource_not_found_error', message: 'Not found' },
  },
  too_large: {
    status: 413,
    native: { code: 'BadRequest.TooLarge', message: 'Request body too large.' },
    compat: { code: 'request_too_large', type: 'invalid_request_error', message: 'Request body too large.' },
    moonshot: { type: 'invalid_request_error', message: 'Request body too large' },
  },
  unsupported_operation: {
    status: 400,
    native: { code: 'UnsupportedOperation', message: 'The operation is not supported.' },
    compat: { code: 'unsupported_operation', type: 'invalid_request_error', message: 'The operation is not supported.' },
    moonshot: { type: 'invalid_request_error', message: 'The operation is not supported' },
  },
  timeout: {
    status: 408,
    native: { code: 'RequestTimeOut', message: 'Request timed out, please try again later.' },
    compat: { code: 'request_timeout', type: 'request_timeout', message: 'Request timed out, please try again later.' },
    moonshot: { type: 'server_error', message: 'Request timed out' },
  },
  rate_limited: {
    status: 429,
    native: { code: 'Throttling.RateQuota', message: 'Requests rate limit exceeded, please try again later.' },
    compat: { code: 'limit_requests', type: 'limit_requests', message: 'You exceeded your current requests list.' },
    moonshot: { type: 'rate_limit_reached_error', message: 'Your account reached max request rate limit, please try again later' },
  },
  internal: {
    status: 500,
    native: { code: 'InternalError', message: 'An internal error has occured, please try again later or contact service support.' },
    compat: { code: 'internal_error', type: 'internal_error', message: 'An internal error has occured, please try again later or contact service support.' },
    moonshot: { type: 'server_error', message: 'Internal server error' },
  },
  overloaded: {
    status: 503,
    native: { code: 'ModelServingError', message: 'Too many requests. Your requests are being throttled due to system capacity limits. Please try again later.' },
    compat: { code: 'model_serving_error', type: 'model_serving_error', message: 'Too many requests. Your requests are being throttled due to system capacity limits. Please try again later.' },
    moonshot: { type: 'engine_overloaded_error', message: 'The engine is currently overloaded, please try again later' },
  },
}

/** A refusal a handler throws; rendered in the endpoint's protocol. */
export class Reject extends Error {
  constructor(
    readonly kind: RejectKind,
    /** Overrides the default wording. */
    readonly detail?: string,
    readonly status: number = WORDING[kind].status,
    /** Overrides the protocol's code (for injected faults). */
    readonly code?: string,
  ) {
    super(detail ?? kind)
  }
}

/** The kind whose default wording fits an arbitrary HTTP status. */
export function kindForStatus(status: number): RejectKind {
  switch (status) {
    case 401:
      return 'invalid_api_key'
    case 403:
      return 'access_denied'
    case 404:
      return 'model_not_found'
    case 408:
      return 'timeout'
    case 413:
      return 'too_large'
    case 429:
      return 'rate_limited'
    case 503:
      return 'overloaded'
    default:
      return status >= 500 ? 'internal' : 'invalid_parameter'
  }
}

/** The JSON (or XML for `oss`) body of a refusal in this protocol. */
export function errorBody(protocol: Protocol, reject: Reject, requestId: string): { contentType: string; body: string } {
  const w = WORDING[reject.kind]
  switch (protocol) {
    case 'native':
      return json({ code: reject.code ?? w.native.code, message: reject.detail ?? w.native.message, request_id: requestId })
    case 'compat':
      return json({ error: { message: reject.detail ?? w.compat.message, type: w.compat.type, param: null, code: reject.code ?? w.compat.code }, request_id: requestId })
    case 'moonshot':
      return json({ error: { type: reject.code ?? w.moonshot.type, message: reject.detail ?? w.moonshot.message } })
    case 'oss': {
      const code = reject.code ?? (reject.status === 403 ? 'AccessDenied' : reject.status === 404 ? 'NoSuchKey' : 'InternalError')
      const message = (reject.detail ?? w.native.message).replace(/[<>&]/g, '')
      return { contentType: 'application/xml', body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${requestId}</RequestId></Error>` }
    }
  }
}

function json(value: unknown): { contentType: string; body: string } {
  return { contentType: 'application/json', body: JSON.stringify(value) }
}

/** The mid-stream moderation error as a parsed object (what goes after `data:`). */
export function streamErrorPayload(protocol: 'native' | 'compat' | 'moonshot', requestId: string): unknown {
  const w = WORDING.data_inspection_output
  switch (protocol) {
    case 'native':
      return { code: w.native.code, message: w.native.message, request_id: requestId }
    case 'compat':
      return { error: { message: w.compat.message, type: w.compat.type, param: null, code: w.compat.code }, request_id: requestId }
    case 'moonshot':
      return { error: { type: w.moonshot.type, message: w.moonshot.message } }
  }
}
