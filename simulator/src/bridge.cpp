#include "opsync/simulator/bridge.h"

#include <cctype>
#include <string_view>

#include "opsync/protocol/endpoints.h"

namespace opsync::simulator {

server::Request to_server_request(const client::HttpRequest& r, const std::string& token) {
  server::Request request;
  request.method = r.method;
  const size_t question = r.target.find('?');
  request.path = r.target.substr(0, question);
  // The query as the HTTP adapter reads it (TRN-013): percent-decoded, in order, repeats kept.
  if (question != std::string::npos)
    request.query = parse_query_string(std::string_view(r.target).substr(question + 1));
  if (r.authorized && !token.empty()) request.headers["authorization"] = "Bearer " + token;
  if (!r.content_type.empty()) request.headers["content-type"] = r.content_type;
  request.body = r.body;
  return request;
}

client::HttpResponse to_client_response(const server::Response& answer) {
  client::HttpResponse response;
  response.status = answer.status;
  response.body = answer.body;
  response.headers["content-type"] = answer.content_type;
  for (const auto& [name, value] : answer.headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    response.headers[lower] = value;
  }
  return response;
}

Result<client::HttpResponse> CoreTransport::exchange(const client::HttpRequest& request,
                                                     const std::string& token) {
  return to_client_response(core_.handle(to_server_request(request, token), now_ms_));
}

}  // namespace opsync::simulator
