// The case catalog: every case of every section, in a fixed order.
#include "common.h"

namespace opsync::conformance {

std::vector<const Case*> all_cases() {
  std::vector<const Case*> out;
  for (std::span<const Case> section :
       {cases::discovery_cases(), cases::json_cases(), cases::errors_cases(), cases::limits_cases(),
        cases::auth_cases(), cases::keys_cases(), cases::upload_cases(), cases::log_cases(),
        cases::files_cases(), cases::transport_cases(), cases::order_cases(), cases::depth_cases(),
        cases::durability_cases()})
    for (const Case& c : section) out.push_back(&c);
  return out;
}

}  // namespace opsync::conformance
