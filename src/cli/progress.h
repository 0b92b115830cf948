// The progress of a command that waits (dev up, cluster move, resource move, snapshot save;
// distribute and job wait draw their servers' lines themselves): on a terminal, one line on
// stderr redrawn in place with the seconds waited; piped, a line each time it says something
// new; with --json nothing, so stdout holds the document alone.
#pragma once

#include <chrono>
#include <string>

#include "cli/cli.h"

namespace cohort::cli {

class Progress {
 public:
  explicit Progress(const Globals& g);
  ~Progress();  // ends a line drawn in place
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void Say(const std::string& what);
  // Ends a line drawn in place, before what follows is printed.
  void Done();

 private:
  bool quiet_;
  bool tty_;
  bool drawn_ = false;
  std::string last_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace cohort::cli
