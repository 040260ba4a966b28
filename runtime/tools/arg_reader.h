// Command-line reading for edge-run (and the small test tools): walks argv
// one option at a time and accepts both `--opt value` and `--opt=value`.
// edge-run must stay small on the boards (a core binary of a few hundred KiB),
// so it cannot take a full argument library; the host tools (edge-convert,
// edge-bench) use CLI11. No exceptions, no allocation beyond one string.
#pragma once

#include <string>

namespace edge {
namespace cli {

class ArgReader {
 public:
  ArgReader(int argc, char** argv) : argc_(argc), argv_(argv) {}

  // Moves to the next argument; false when none is left. An argument
  // "--name=value" is read as the option "--name" with the value "value".
  bool Next();
  // The current argument: an option name ("--steps", "-o") or a positional.
  const std::string& arg() const { return arg_; }
  bool is_option() const { return !arg_.empty() && arg_[0] == '-'; }
  // The current option's value: the text after '=' or else the next
  // argument (consumed). Null when there is none.
  const char* Value();
  // True when "--flag=value" was given to an option that took no Value():
  // the caller refuses it instead of silently dropping the value.
  bool value_ignored() const { return inline_value_ != nullptr && !value_taken_; }

 private:
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string arg_;
  const char* inline_value_ = nullptr;
  bool value_taken_ = false;
};

}  // namespace cli
}  // namespace edge
