#include "opsync/client/http.h"

#include "opsync/protocol/messages.h"

namespace opsync::client {

const std::string& HttpResponse::header(const std::string& lower_case_name) const {
  static const std::string kEmpty;
  auto it = headers.find(lower_case_name);
  return it == headers.end() ? kEmpty : it->second;
}

Error error_from_response(const HttpResponse& response) {
  Result<ErrorBody> body = parse_message<ErrorBody>(response.body);
  if (body.ok() && body->code) {
    Error error(*body->code, body->field, body->message);
    error.details = body->details;
    return error;
  }
  // ERR-005: an unreadable body or an unknown code; the status says what kind of failure it is.
  const std::string what = "the server answered " + std::to_string(response.status) +
                           (body.ok() ? " (" + body->code_name + ": " + body->message + ")" : "");
  switch (response.status) {
    case 401:
      return Error(Code::kTokenInvalid, what);
    case 403:
      return Error(Code::kInsufficientScope, what);
    case 404:
      return Error(Code::kNotFound, what);
    case 409:
      return Error(Code::kProtocolError, what);
    default:
      return Error(response.status >= 500 ? Code::kUnavailable : Code::kProtocolError, what);
  }
}

}  // namespace opsync::client
