#include "dcm/identity.h"

namespace cohort::dcm {

Result<std::string> ParseUid(const std::string& file_text, const std::string& file) {
  std::string line = file_text.substr(0, file_text.find('\n'));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) {
    line.pop_back();
  }
  const auto bad = [&](const std::string& why) {
    return Error(Errc::kInvalidArgument, file + ": " + why);
  };
  if (line.empty()) return bad("empty: no unique id for this machine");
  if (line.size() > 128) return bad("the unique id is longer than 128 characters");
  for (char ch : line) {
    const bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_' || ch == '.';
    if (!ok)
      return bad("the unique id holds a character other than letters, digits, '-', '_', '.'");
  }
  return line;
}

const char* IdentityActionName(IdentityAction a) {
  switch (a) {
    case IdentityAction::kJoin:
      return "join";
    case IdentityAction::kDefine:
      return "define";
    case IdentityAction::kAdopt:
      return "adopt";
    case IdentityAction::kCleanUpLocal:
      return "clean_up_local";
    case IdentityAction::kCorrectUid:
      return "correct_uid";
    case IdentityAction::kRefuseClone:
      return "refuse_clone";
    case IdentityAction::kRefuseNumberTaken:
      return "refuse_number_taken";
    case IdentityAction::kRefuseUndefined:
      return "refuse_undefined";
  }
  return "?";
}

IdentityAction DecideIdentity(const IdentityFacts& f) {
  // A claim by another number: two machines share this UID, whatever else is true.
  if (f.claimed_by && *f.claimed_by != f.self) return IdentityAction::kRefuseClone;
  if (f.local.empty()) {
    if (!f.global) return f.may_define ? IdentityAction::kDefine : IdentityAction::kRefuseUndefined;
    return *f.global == f.original ? IdentityAction::kAdopt : IdentityAction::kRefuseNumberTaken;
  }
  const bool local_is_global = f.global && *f.global == f.local;
  if (f.original == f.local) {
    return local_is_global ? IdentityAction::kJoin : IdentityAction::kCleanUpLocal;  // 1, 2
  }
  return local_is_global ? IdentityAction::kCorrectUid : IdentityAction::kCleanUpLocal;  // 3, 4
}

}  // namespace cohort::dcm
