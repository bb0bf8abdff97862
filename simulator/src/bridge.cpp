#include "opsync/simulator/bridge.h"

#include <cctype>
#include <string_view>

namespace opsync::simulator {

server::Request to_server_request(const client::HttpRequest& r, const std::string& token) {
  server::Request request;
  request.method = r.method;
  const size_t question = r.target.find('?');
  request.path = r.target.substr(0, question);
  if (question != std::string::npos) {
    std::string_view rest = std::string_view(r.target).substr(question + 1);
    while (!rest.empty()) {  // bounded by the target's length
      const size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      const size_t eq = pair.find('=');
      request.query.emplace_back(
          std::string(pair.substr(0, eq)),
          eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    }
  }
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
