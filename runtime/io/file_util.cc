#include "runtime/io/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace edge {

Status WriteWholeFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Error(StatusCode::kIoError, "cannot create '%s': %s", path.c_str(),
                         std::strerror(errno));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return Status::Error(StatusCode::kIoError, "write '%s': %s", path.c_str(),
                           std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    return Status::Error(StatusCode::kIoError, "close '%s': %s", path.c_str(),
                         std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace edge
