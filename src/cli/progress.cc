#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace cohort::cli {

Progress::Progress(const Globals& g) : quiet_(g.json), tty_(::isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { Done(); }

void Progress::Done() {
  if (drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
  last_.clear();
}

void Progress::Say(const std::string& what) {
  if (quiet_) return;
  if (tty_) {
    const auto s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start_)
            .count();
    std::fprintf(stderr, "\r\033[K%s (%lld s)", what.c_str(), static_cast<long long>(s));
    std::fflush(stderr);
    drawn_ = true;
  } else if (what != last_) {
    std::fprintf(stderr, "%s\n", what.c_str());
  }
  last_ = what;
}

}  // namespace cohort::cli
