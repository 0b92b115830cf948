// A port on 127.0.0.1 that was free a moment ago, for tests that start servers on loopback.
// Another process may take it before the test binds it; tests bind at once.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace cohort {

// `type`: SOCK_STREAM (TCP) or SOCK_DGRAM (UDP). 0 if none could be had.
inline uint16_t FreeLoopbackPort(int type = SOCK_STREAM) {
  const int fd = ::socket(AF_INET, type, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  return bound ? ntohs(a.sin_port) : 0;
}

}  // namespace cohort
