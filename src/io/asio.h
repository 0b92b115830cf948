// The one way to include Boost.Asio: GCC 12 needs <utility> before asio's awaitable header
// (ARCHITECTURE.md §7). Include only from .cc files of io/, node/ and api/ (and headers
// private to those folders).
#pragma once

// clang-format off: <utility> must come first.
#include <utility>
// clang-format on

#include <boost/asio.hpp>
