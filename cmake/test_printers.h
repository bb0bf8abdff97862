// How the tests of every component print protocol values: Boost.Test and RapidCheck find these
// operator<< overloads by argument-dependent lookup when a check fails.
#pragma once

#include <ostream>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/diff.h"
#include "opsync/protocol/lww.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/result.h"

namespace opsync {

template <size_t N>
std::ostream& operator<<(std::ostream& out, const FixedBytes<N>& value) {
  return out << to_hex(value.view()).substr(0, 12);
}
inline std::ostream& operator<<(std::ostream& out, const Hlc& hlc) {
  return out << "(" << hlc.wall_ms << "," << hlc.counter << ")";
}
inline std::ostream& operator<<(std::ostream& out, Code code) { return out << code_name(code); }
inline std::ostream& operator<<(std::ostream& out, const Error& error) {
  return out << error.to_string();
}
inline std::ostream& operator<<(std::ostream& out, const WireOp& op) {
  return out << "{v=" << int{op.v} << " id=" << op.id << " device=" << op.device_id
             << " hlc=" << op.hlc << " key_id=" << op.key_id << " payload=" << op.payload.size()
             << "B:" << to_hex(op.payload).substr(0, 16) << "}";
}
inline std::ostream& operator<<(std::ostream& out, const ObjectOp& op) {
  out << "{" << op.id << " " << op.hlc << " " << op.payload.key << " "
      << (op.payload.type == OpType::kPut ? "put" : "delete") << " bases=[";
  for (const OpId& base : op.payload.bases) out << base << " ";
  return out << "] files=" << op.payload.files.size() << "}";
}
inline std::ostream& operator<<(std::ostream& out, Held held) {
  switch (held) {
    case Held::kNowhere:
      return out << "nowhere";
    case Held::kOutbox:
      return out << "outbox";
    case Held::kCandidate:
      return out << "candidate";
    case Held::kMirror:
      return out << "mirror";
  }
  return out << "?";
}

}  // namespace opsync
