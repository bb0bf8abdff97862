// The object tables: spec 10.2 materialized in SQLite, inside the caller's transaction.
//
// Every applied operation is a row of object_ops, keyed by (object key, id) so that a new
// operation lands beside its key's rows rather than on a random page; what it names in bases is a
// row of object_bases per base, recorded under the naming operation's key (supersession is within a
// key, as in protocol KeyState). `is_head` caches "no operation of this key names me in bases":
// an operation's row starts as a head unless an already-held operation names it, and loses the
// flag when a later-applied one names it. Both steps depend only on which rows exist, so the flag
// is the same for every order of arrival (LWW-010, LWW-013). The object_heads index orders each
// key's heads winner first, which is all that reading a key, listing keys or finding conflicts
// needs.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "opsync/client/store.h"
#include "sqlite.h"

namespace opsync::client::detail {

using FaultPoint = std::function<void(std::string_view)>;

// Applies `op` once: returns false, changing nothing, when the operation is already held under
// its key (its clock must then match the held row). Records a files row for each file reference.
// One id under two keys is two operations under one id, which the caller rules out by hash first
// (OP-021).
bool apply_object_op(sql::Connection& db, const ObjectOp& op, const FaultPoint& fault);

// Moves a held operation of `key` to a new timestamp (re-stamping, HLC-020). Returns false if the
// operation is not held.
bool restamp_object_op(sql::Connection& db, const std::string& key, const OpId& id, const Hlc& hlc);

ObjectView object_view(sql::Connection& db, const std::string& key);
std::vector<OpId> head_ids(sql::Connection& db, const std::string& key, uint32_t limit);
std::vector<std::string> present_keys(sql::Connection& db);
std::vector<std::string> keys_with_heads(sql::Connection& db);
std::vector<std::string> conflicted_keys(sql::Connection& db);
std::vector<FileId> referenced_files(sql::Connection& db);
// Files the store knows that no head references (FILE-022).
std::vector<FileId> unreferenced_files(sql::Connection& db);
bool is_file_referenced(sql::Connection& db, const FileId& id);

}  // namespace opsync::client::detail
