#include "membership.h"

#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/messages.h"
#include "world.h"

namespace opsync::simulator {

void Membership::invitation_ready(uint32_t for_device, Invitation invitation) {
  invitations_[for_device] = invitation;
  tokens_by_id_[invitation.token_id] = invitation.token;
  // An invitation answered after the owner decided to revoke the device: revoked in turn.
  if (revocation_intended(for_device)) world_.device(0).revoke_member(for_device);
  DeviceNode& d = world_.device(for_device);
  if (d.life == DeviceNode::Life::kNotJoined)
    d.start_setup(false);
  else if (d.life == DeviceNode::Life::kUp || d.life == DeviceNode::Life::kDown)
    d.replace_token(invitation.token);
}

void Membership::request_revocation(uint32_t device) {
  if (device == 0 || device >= world_.device_count() || revocation_intended(device)) return;
  revocation_intended_.insert(device);
  DeviceNode& d = world_.device(device);
  world_.note_fault_for(device);
  world_.event(d.name, "revoke", "the owner revokes this device's token", to_bytes("revoke"));
  world_.device(0).revoke_member(device);
}

std::optional<Invitation> Membership::invitation_for(uint32_t device) const {
  auto it = invitations_.find(device);
  if (it == invitations_.end()) return std::nullopt;
  return it->second;
}

// AUTH-016, AUTH-030: from the moment the server answered a revocation, the token it revoked is
// refused, whatever happens to the server afterwards (kills, restores).
void Membership::watch_revocations(const HttpRequest& request, const std::string& token,
                                   const HttpResponse& response, uint32_t device) {
  if (response.status < 200 || response.status > 299) return;
  // Requests that carry no token (GET /v1/info) say nothing of it.
  if (auto revoked = revoked_tokens_.find(token);
      request.authorized && revoked != revoked_tokens_.end()) {
    world_.violation("revocation", {world_.device(device).name, "server"}, {},
                     "the server answered " + std::to_string(response.status) + " to " +
                         request.method + " " + request.target + " made with a token it revoked " +
                         std::to_string(world_.now() - revoked->second) + " ms before (" +
                         std::to_string(world_.restores()) +
                         " restores so far; AUTH-016, AUTH-030)");
    return;
  }
  if (request.method != "DELETE" ||
      endpoint_of_target(request.method, request.target) != EndpointId::kRevokeToken)
    return;
  Result<RevokeTokenResponse> revoked = parse_message<RevokeTokenResponse>(response.body);
  if (!revoked.ok()) return;
  auto it = tokens_by_id_.find(revoked->token_id);
  if (it != tokens_by_id_.end()) revoked_tokens_.emplace(it->second, world_.now());
}

}  // namespace opsync::simulator
