// The parts of a URL a request target carries: percent-decoding (RFC 3986 §2.1) and query
// parameters. Pure functions, total on any input.
#pragma once

#include <string>
#include <string_view>

namespace cohort {

// %XX decoded; a '%' not followed by two hex digits stays as it is. In a query string
// (`plus_is_space`) '+' is a space, as forms encode it; in a path it is itself.
std::string PercentDecode(std::string_view s, bool plus_is_space);
// Every byte but unreserved ones (RFC 3986 §2.3) and '/' as %XX: a path as a URL carries it.
std::string PercentEncodePath(std::string_view s);
// The value of `name` in the target's query string, percent-decoded; "" if absent, "1" if
// present without a value.
std::string QueryParam(std::string_view target, std::string_view name);

}  // namespace cohort
