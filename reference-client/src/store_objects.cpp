// LocalStore's objects (store_parts.h): the views of spec 10.2 over the object tables
// (objects.h), each in one read transaction.
#include "objects.h"
#include "opsync/protocol/limits.h"
#include "store_impl.h"
#include "store_parts.h"

namespace opsync::client::store_parts {

Result<ObjectView> Objects::get(const std::string& key) {
  return impl_.read([&] { return detail::object_view(*impl_.db, key); });
}

Result<std::vector<std::string>> Objects::list() {
  return impl_.read([&] { return detail::present_keys(*impl_.db); });
}

Result<std::vector<OpId>> Objects::bases_for_write(const std::string& key) {
  return impl_.read([&] { return detail::head_ids(*impl_.db, key, kBasesMax); });
}

Result<std::vector<std::string>> Objects::keys_with_heads() {
  return impl_.read([&] { return detail::keys_with_heads(*impl_.db); });
}

Result<std::vector<std::string>> Objects::conflicted_keys() {
  return impl_.read([&] { return detail::conflicted_keys(*impl_.db); });
}

}  // namespace opsync::client::store_parts
