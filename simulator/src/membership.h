// The workspace's members as the owner arranges them: the invitations it issued (opsync: through
// the network), the revocations it decided, and the revocation checker, which holds the server to
// each revocation from the moment it answered it (AUTH-016, AUTH-030).
//
// Thread safety: none. Everything runs on the thread that calls World::run().
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "opsync/client/http.h"
#include "opsync/protocol/bytes.h"

namespace opsync::simulator {

class World;

// An invitation the owner issued for a device: the token it joins with.
struct Invitation {
  std::string token;
  TokenId token_id;
};

class Membership {
 public:
  explicit Membership(World& world) : world_(world) {}

  // The owner's invitation for `for_device` was answered: the device joins, or takes the new
  // token.
  void invitation_ready(uint32_t for_device, Invitation invitation);
  std::optional<Invitation> invitation_for(uint32_t device) const;
  // The owner decides to revoke a device's token: from now on the device's edits need not reach
  // the log and it is not held to convergence; the owner's DELETE goes through the network, and
  // the revocation checker holds the server to it from the moment the server answered it.
  void request_revocation(uint32_t device);
  bool revocation_intended(uint32_t device) const {
    return revocation_intended_.count(device) != 0;
  }
  // The server answered a device's request: a success with a revoked token breaks AUTH-016 or
  // AUTH-030; an answered revocation starts the watch of its token.
  void watch_revocations(const client::HttpRequest& request, const std::string& token,
                         const client::HttpResponse& response, uint32_t device);

 private:
  World& world_;
  std::map<uint32_t, Invitation> invitations_;
  std::map<TokenId, std::string> tokens_by_id_;  // every invitation's token, by id
  std::set<uint32_t> revocation_intended_;
  std::map<std::string, uint64_t> revoked_tokens_;  // token -> true time the server revoked it
};

}  // namespace opsync::simulator
