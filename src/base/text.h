// Text from the outside world as an operator sees it: file names are bytes, JSON and
// terminals want UTF-8. A name that is not valid UTF-8 is shown with each offending byte
// written as \xNN, and carried exactly as hex beside it where it must come back.
// Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cohort {

bool IsValidUtf8(std::string_view text);
// `text` itself if it is valid UTF-8; otherwise each byte that is not part of a valid
// sequence becomes the four characters \xNN. Valid text never changes.
std::string EscapeInvalidUtf8(std::string_view text);
std::string ToHex(std::string_view bytes);
// 0–15 for a hex digit (either case), -1 for anything else.
int HexDigitValue(char c);
// The inverse of ToHex; nullopt for an odd length or a character that is not a hex digit.
std::optional<std::string> FromHex(std::string_view hex);
// A decimal number of 1-19 digits and nothing else (no sign, no space); nullopt otherwise.
std::optional<uint64_t> ParseUnsigned(std::string_view text);

}  // namespace cohort
