// RFC 9112 framing and liveness (spec 2.1): the cases land with the server's strict HTTP layer.
#include "common.h"

namespace opsync::conformance::cases {

std::span<const Case> transport_cases() { return {}; }

}  // namespace opsync::conformance::cases
