#include "world.h"

namespace opsync::simulator {

std::unique_ptr<ServerNode> make_dataans_server(World&) { OPSYNC_CHECK_MSG(false, "not yet"); return nullptr; }
std::unique_ptr<DeviceNode> make_dataans_device(World&, uint32_t) { OPSYNC_CHECK_MSG(false, "not yet"); return nullptr; }

}  // namespace opsync::simulator
