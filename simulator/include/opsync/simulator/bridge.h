// The client's requests as the server core takes them, and the core's responses as the client
// reads them: what an HTTP round trip does to them, without the sockets. The simulator, and any
// test that puts a client and a server core in one process, exchange messages through these.
#pragma once

#include <string>

#include "opsync/client/http.h"
#include "opsync/server/core.h"

namespace opsync::simulator {

// Splits the target into path and query (names and values are taken as written: the client's
// targets carry no escapes), and sends the bearer token when the request is authorized.
server::Request to_server_request(const client::HttpRequest& request, const std::string& token);
// Header names in lower case, as the client's HTTP driver gives them.
client::HttpResponse to_client_response(const server::Response& response);

// A client::Transport that answers through a server core in the same process, at the time the
// caller's clock says.
class CoreTransport final : public client::Transport {
 public:
  CoreTransport(server::ServerCore& core, const uint64_t& now_ms) : core_(core), now_ms_(now_ms) {}
  Result<client::HttpResponse> exchange(const client::HttpRequest& request,
                                        const std::string& token) override;

 private:
  server::ServerCore& core_;
  const uint64_t& now_ms_;
};

}  // namespace opsync::simulator
