# cmake -DIN=FILE -DOUT=FILE.cc -DNAME=Function -P embed.cmake
# Writes a C++ file whose function cohort::api::NAME() returns FILE's text: the dashboard
# page stays an HTML file to edit, and the daemon serves it from memory.
file(READ "${IN}" content)
string(FIND "${content}" ")cohort_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw string's delimiter")
endif()
file(WRITE "${OUT}.tmp" "// Generated from ${IN} by cmake/embed.cmake: edit that file.\n"
  "#include <string_view>\n\nnamespace cohort::api {\n\nstd::string_view ${NAME}() {\n"
  "  static constexpr std::string_view kText = R\"cohort_embed(${content})cohort_embed\";\n"
  "  return kText;\n}\n\n}  // namespace cohort::api\n")
file(RENAME "${OUT}.tmp" "${OUT}")
