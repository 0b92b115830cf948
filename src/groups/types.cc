#include "groups/types.h"

namespace cohort::groups {

const char* RoleName(Role r) {
  switch (r) {
    case Role::kProvider:
      return "provider";
    case Role::kSubscriber:
      return "subscriber";
  }
  return "?";
}

const char* ChangeKindName(ChangeKind k) {
  switch (k) {
    case ChangeKind::kJoin:
      return "join";
    case ChangeKind::kLeave:
      return "leave";
    case ChangeKind::kProcessDied:
      return "process-died";
    case ChangeKind::kNodeDied:
      return "node-died";
    case ChangeKind::kState:
      return "state";
  }
  return "?";
}

const char* AbortReasonName(AbortReason r) {
  switch (r) {
    case AbortReason::kRejected:
      return "rejected";
    case AbortReason::kNotProvider:
      return "not-provider";
    case AbortReason::kNoGroup:
      return "no-group";
    case AbortReason::kNotMember:
      return "not-member";
    case AbortReason::kAlreadyMember:
      return "already-member";
    case AbortReason::kInvalid:
      return "invalid";
  }
  return "?";
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace cohort::groups
