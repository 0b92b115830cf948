// The one way to include Boost.Asio: GCC 12 needs <utility> before asio's awaitable header
// (ARCHITECTURE.md §7). Include only from .cc files of io/, node/ and api/.
#pragma once

#include <boost/asio.hpp>
#include <utility>
