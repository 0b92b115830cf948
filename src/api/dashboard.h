// The dashboard served at GET / (INTERFACE.md "HTTP API"): src/api/dashboard.html, one
// self-contained page (no script, style or font from anywhere else) kept live by the feed of
// GET /v1/dashboard/feed (dashboard_feed.h). Compiled in from the HTML file at build time.
#pragma once

#include <string_view>

namespace cohort::api {

std::string_view DashboardHtml();

}  // namespace cohort::api
