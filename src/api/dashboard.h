// The dashboard served at GET / (INTERFACE.md "HTTP API"): one self-contained HTML page that
// polls /v1/status and /v1/tables and draws the cluster map and the supervisor tables. No
// script or style is fetched from anywhere else.
#pragma once

#include <string_view>

namespace cohort::api {

std::string_view DashboardHtml();

}  // namespace cohort::api
