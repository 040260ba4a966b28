// Writes a whole byte buffer to a file (create/truncate), retrying on EINTR;
// shared by the .npy and PNG writers.
#pragma once

#include <string>
#include <vector>

#include "runtime/status.h"

namespace edge {

Status WriteWholeFile(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace edge
