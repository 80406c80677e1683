// Runs the rnnbench binary of this build as a user would, capturing stdout and stderr
// together with the exit code.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

namespace rnnb::test {

struct CliResult {
  int exit_code;
  std::string output;
};

// `env` is prepended as shell assignments ("RNNB_X=1").
inline CliResult run_rnnbench(const std::string& args, const std::string& env = "") {
  const std::string command = env + " " + std::string(RNNB_BINARY_DIR) + "/rnnbench " + args + " 2>&1 </dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return {-1, ""};
  std::string output;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), output};
}

}  // namespace rnnb::test
