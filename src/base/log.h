// Logging for the runtime (io/, node/, apps/): one line per event, as text or JSON lines.
//
// Protocol cores do not log; they emit events that node/ logs. The format and level are set
// once at start (SetLogFormat/SetLogLevel) before threads start; Log() itself is thread-safe.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace cohort {

enum class LogLevel { kDebug = 0, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);
// Parses "debug", "info", "warn", "error". Returns false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);

using LogField = std::pair<std::string_view, std::string>;

// Writes `component: message key=value ...` (text) or one JSON object (json) to stderr.
void Log(LogLevel level, std::string_view component, std::string_view message,
         std::initializer_list<LogField> fields = {});

}  // namespace cohort
