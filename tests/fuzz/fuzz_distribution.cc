// Data-plane message decoder and validator (distribution/messages.h, validate.h): never
// crash; whatever decodes re-encodes to the same bytes; whatever passes CheckMessage keeps
// the promises the receiver relies on before it touches a disk (no path part "..", no
// absolute path, a stream size that a u64 holds, a job id of digits and one dash).
#include <algorithm>
#include <cstdlib>

#include "distribution/messages.h"
#include "distribution/validate.h"

namespace {

using namespace cohort::distribution;

void CheckPathPromise(const std::string& path) {
  if (!path.empty() && path[0] == '/') std::abort();
  if (path == ".." || path.rfind("../", 0) == 0 || path.find("/../") != std::string::npos ||
      (path.size() >= 3 && path.compare(path.size() - 3, 3, "/..") == 0)) {
    std::abort();
  }
  if (path.find('\0') != std::string::npos || path.size() > kMaxPathBytes) std::abort();
}

void CheckPromises(const Message& m) {
  if (const auto* offer = std::get_if<OfferMsg>(&m)) {
    const Manifest& manifest = offer->manifest;
    if (manifest.job.find_first_not_of("0123456789-") != std::string::npos) std::abort();
    CheckPathPromise(manifest.dest);
    if (manifest.dest.rfind(std::string(kReservedFolder), 0) == 0 &&
        (manifest.dest.size() == kReservedFolder.size() ||
         manifest.dest[kReservedFolder.size()] == '/')) {
      std::abort();
    }
    uint64_t total = 0;
    for (const Command& c : manifest.commands) {
      CheckPathPromise(c.path);
      if (c.kind == CommandKind::kFile) {
        if (c.size > kMaxStreamBytes - total) std::abort();
        total += c.size;
      }
    }
    if (manifest.StreamSize() != total) std::abort();
  }
  if (const auto* more = std::get_if<CommandsMsg>(&m)) {
    for (const Command& c : more->commands) CheckPathPromise(c.path);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = Decode(cohort::wire::ByteView(data, size));
  if (!m) return 0;
  const cohort::wire::Bytes again = Encode(*m);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  if (CheckMessage(*m)) CheckPromises(*m);
  return 0;
}
