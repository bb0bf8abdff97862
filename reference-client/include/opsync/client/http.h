// The HTTP exchange as the client's sans-I/O parts see it: a request to send, and the response or
// transport failure that came back. Adapters (cpp-httplib, the simulator's network) move them.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "opsync/protocol/result.h"

namespace opsync::client {

struct HttpRequest {
  std::string method;        // "GET", "POST", "PUT", "DELETE"
  std::string target;        // path and query, e.g. "/v1/workspaces/{id}/ops?after_seq=7"
  std::string content_type;  // empty when there is no body
  std::string body;
  bool authorized = true;  // sends the device's bearer token
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  // The header's value, or "" when absent.
  const std::string& header(const std::string& lower_case_name) const;
};

// A synchronous exchange, for the few one-shot calls outside a sync (creating a workspace, issuing
// a token, putting key records). Fails with kTransport when no response came back.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<HttpResponse> exchange(const HttpRequest& request, const std::string& token) = 0;
};

// The error a non-2xx response stands for: the spec's code from its error body (ERR-005: the
// status decides when the body is unreadable or the code unknown).
Error error_from_response(const HttpResponse& response);

}  // namespace opsync::client
