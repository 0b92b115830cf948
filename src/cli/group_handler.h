// Running a group member's handler program (`cohort group join --handler PROGRAM`): the
// program gets one event — a vote to cast or a change committed — with its value on stdin
// and the rest in the environment (COHORT_GROUP, COHORT_EVENT, ...), and answers a vote by
// its exit status: 0 approves, anything else rejects.
#pragma once

#include <csignal>
#include <map>
#include <string>

#include "base/result.h"

namespace cohort::cli {

struct HandlerRun {
  std::string program;  // run by /bin/sh -c, so it may carry arguments
  std::map<std::string, std::string> env;
  std::string input;  // written to its stdin
  int timeout_ms = 10000;
  // Set (by a signal handler) while it runs: the program is killed and the run fails.
  const volatile std::sig_atomic_t* interrupted = nullptr;
};

// The program's exit status (a signal's death counts as 128 + its number); an error if it
// could not start or did not end within the timeout (it is then killed).
Result<int> RunHandler(const HandlerRun& run);

}  // namespace cohort::cli
