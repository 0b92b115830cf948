#include "io/media_request.h"

#include <array>

#include "base/ids.h"
#include "base/text.h"
#include "base/url.h"
#include "distribution/validate.h"
#include "workload/sessions.h"

namespace cohort::io {
namespace {

constexpr std::string_view kPrefix = "/media/";

// CORS: players on other origins read the stream and the headers that say what it is.
constexpr std::string_view kCommonHeaders =
    "Server: cohortd\r\n"
    "Access-Control-Allow-Origin: *\r\n"
    "Access-Control-Expose-Headers: Content-Range, Content-Length, Accept-Ranges, ETag, "
    "Cohort-Session\r\n";

}  // namespace

Result<MediaTarget> ParseMediaTarget(std::string_view target) {
  if (!target.starts_with(kPrefix)) {
    return Error(Errc::kNotFound, "not a media path: expected /media/<path>");
  }
  const size_t q = target.find('?');
  MediaTarget t;
  t.path = PercentDecode(
      target.substr(kPrefix.size(),
                    q == std::string_view::npos ? std::string_view::npos : q - kPrefix.size()),
      false);
  if (auto s = distribution::CheckWritablePath(t.path); !s || t.path.empty()) {
    return Error(Errc::kInvalidArgument, "bad media path '" + t.path + "'");
  }
  for (const auto& [name, out] : {std::pair{"session", &t.session}, std::pair{"kbps", &t.kbps}}) {
    const std::string v = QueryParam(target, name);
    if (v.empty()) continue;
    auto n = ParseUnsigned(v);
    // Ids and rates as the supervisor makes them: a bound that no sum of them overflows.
    if (!n || *n > workload::kMaxSessionId) {
      return Error(Errc::kInvalidArgument, std::string("bad ") + name + " '" + v + "'");
    }
    *out = *n;
  }
  t.disk = QueryParam(target, "disk");
  if (!t.disk.empty() && !ValidDiskId(t.disk)) {
    return Error(Errc::kInvalidArgument, "bad disk id '" + t.disk + "'");
  }
  return t;
}

std::string_view ContentTypeOf(std::string_view path) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 18> kTypes{{
      {".mp4", "video/mp4"},
      {".m4v", "video/mp4"},
      {".webm", "video/webm"},
      {".mkv", "video/x-matroska"},
      {".ts", "video/mp2t"},
      {".m4s", "video/iso.segment"},
      {".m3u8", "application/vnd.apple.mpegurl"},
      {".mpd", "application/dash+xml"},
      {".mp3", "audio/mpeg"},
      {".m4a", "audio/mp4"},
      {".aac", "audio/aac"},
      {".ogg", "audio/ogg"},
      {".ogv", "video/ogg"},
      {".opus", "audio/ogg"},
      {".vtt", "text/vtt"},
      {".json", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".html", "text/html; charset=utf-8"},
  }};
  const size_t dot = path.rfind('.');
  if (dot != std::string_view::npos && path.find('/', dot) == std::string_view::npos) {
    std::string ext(path.substr(dot));
    for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    for (const auto& [e, type] : kTypes) {
      if (e == ext) return type;
    }
  }
  return "application/octet-stream";
}

MediaHead MakeMediaHead(const workload::ByteRange& range, uint64_t size, std::string_view path,
                        std::string_view etag, uint64_t session, bool keep_alive) {
  MediaHead h;
  using Kind = workload::ByteRange::Kind;
  std::string extra;
  if (range.kind == Kind::kUnsatisfiable) {
    h.text = MakePlainAnswer(416, "Range Not Satisfiable", "the range starts past the end",
                             keep_alive, "Content-Range: bytes */" + std::to_string(size) + "\r\n");
    h.status = 416;
    return h;
  }
  if (range.kind == Kind::kPartial) {
    h.status = 206;
    h.first = range.first;
    h.length = range.length();
    extra = "Content-Range: bytes " + std::to_string(range.first) + "-" +
            std::to_string(range.last) + "/" + std::to_string(size) + "\r\n";
  } else {
    h.length = size;
  }
  h.text = std::string("HTTP/1.1 ") + (h.status == 206 ? "206 Partial Content" : "200 OK") +
           "\r\nContent-Type: " + std::string(ContentTypeOf(path)) +
           "\r\nContent-Length: " + std::to_string(h.length) + "\r\nAccept-Ranges: bytes\r\n" +
           extra + (etag.empty() ? "" : "ETag: " + std::string(etag) + "\r\n") +
           "Cohort-Session: " + std::to_string(session) + "\r\nCache-Control: no-cache\r\n" +
           std::string(kCommonHeaders) +
           (keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n") + "\r\n";
  return h;
}

std::string MakePlainAnswer(int status, std::string_view reason, std::string_view message,
                            bool keep_alive, std::string_view extra_headers) {
  const std::string body = std::string(message) + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + std::string(extra_headers) +
         std::string(kCommonHeaders) +
         (keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n") + "\r\n" + body;
}

}  // namespace cohort::io
