// LocalStore's meta (store_parts.h): the binding's mutable state, one row of the device table,
// and the wrapped key records.
#include "store_impl.h"
#include "store_parts.h"

namespace opsync::client::store_parts {

Result<SyncMeta> Meta::meta() {
  return impl_.read([&] {
    sql::Statement& s = impl_.db->prepare(
        "SELECT token, hlc_wall_ms, hlc_counter, clock_offset_ms, last_sync_ms FROM device "
        "WHERE singleton = 1");
    OPSYNC_CHECK(s.step());
    SyncMeta meta{s.text(0), Hlc{s.u64(1), s.u32(2)}, s.i64(3),
                  s.is_null(4) ? std::nullopt : std::optional(s.u64(4))};
    return meta;
  });
}

Status Meta::set_token(std::string_view token) {
  return impl_.write("set_token", [&]() -> Result<Done> {
    impl_.db->prepare("UPDATE device SET token = ? WHERE singleton = 1").bind(1, token).run();
    return Done{};
  });
}

Status Meta::set_clock_offset_ms(int64_t offset_ms) {
  return impl_.write("set_clock_offset_ms", [&]() -> Result<Done> {
    impl_.db->prepare("UPDATE device SET clock_offset_ms = ? WHERE singleton = 1")
        .bind(1, offset_ms)
        .run();
    return Done{};
  });
}

Status Meta::save_hlc(const Hlc& hlc) {
  return impl_.write("save_hlc", [&]() -> Result<Done> {
    OPSYNC_CHECK_MSG(hlc >= impl_.stored_hlc(), "the HLC state went backwards (HLC-004)");
    impl_.save_hlc(hlc);
    return Done{};
  });
}

Status Meta::record_sync_success(uint64_t now_ms) {
  return impl_.write("record_sync_success", [&]() -> Result<Done> {
    impl_.db->prepare("UPDATE device SET last_sync_ms = ? WHERE singleton = 1")
        .bind(1, now_ms)
        .run();
    return Done{};
  });
}

Status Meta::put_key_records(std::span<const KeyRecord> records) {
  return impl_.write("put_key_records", [&]() -> Result<Done> {
    for (const KeyRecord& record : records)
      impl_.db
          ->prepare(
              "INSERT OR REPLACE INTO key_records "
              "(key_id, version, algorithm, iterations, wrapped_key, updated_at_ms) "
              "VALUES (?, ?, ?, ?, ?, ?)")
          .bind(1, record.key_id)
          .bind(2, record.version)
          .bind(3, std::string_view(record.kdf.algorithm))
          .bind(4, record.kdf.iterations)
          .bind(5, ByteView(record.wrapped_key))
          .bind(6, record.updated_at_ms)
          .run();
    return Done{};
  });
}

Result<std::vector<KeyRecord>> Meta::key_records() {
  return impl_.read([&] {
    sql::Statement& s = impl_.db->prepare(
        "SELECT key_id, version, algorithm, iterations, wrapped_key, updated_at_ms "
        "FROM key_records ORDER BY key_id");
    std::vector<KeyRecord> out;
    while (s.step())
      out.push_back(
          KeyRecord{s.u32(0), s.u64(1), KdfParams{s.text(2), s.u32(3)}, s.blob(4), s.u64(5)});
    return out;
  });
}

}  // namespace opsync::client::store_parts
