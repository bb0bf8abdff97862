// What every response of a spec v1 server must look like, whatever the request: the checks that
// need no knowledge of the server's state. The server's fuzzer applies them to every answer of the
// core, the conformance suite to every answer it receives over the wire, so both hold servers to
// one reading of the spec.
//
// Pure: reads only its arguments and the endpoint catalog.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opsync {

struct WireExchange {
  std::string_view method;
  std::string_view target;                     // path and query, as sent
  std::optional<std::string_view> request_id;  // the OpSync-Request-Id the request carried
  int status = 0;
  std::string_view body;
  // The response's header of that name (case-insensitive), or nullopt.
  std::function<std::optional<std::string>(std::string_view)> header;
};

struct WireViolation {
  std::string requirement;  // "ERR-001"
  std::string what;         // one line for people
};

// Every rule the response breaks, in a fixed order; empty when it keeps them all.
std::vector<WireViolation> check_wire_response(const WireExchange& exchange);

// Whether an OpSync-Request-Id value has the form TRN-008 allows.
bool valid_request_id(std::string_view id);

}  // namespace opsync
