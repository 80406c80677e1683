// Runs the rnnbench binary of this build as a user would, capturing stdout and stderr
// together with the exit code: through the shell (run_rnnbench), or as a child process
// the test can signal (spawn_rnnbench, then wait_rnnbench).
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

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

// Starts rnnbench with `args` (no shell), stdout and stderr to `log`, and `env` (NAME,
// value pairs) added to its environment; returns its pid, or -1 when it cannot start.
// Descriptors without close-on-exec (a pipe's write end, say) stay open in it. Everything
// the child needs is prepared before fork(): after it, only async-signal-safe calls.
inline pid_t spawn_rnnbench(const std::vector<std::string>& args, const std::filesystem::path& log,
                            const std::vector<std::pair<std::string, std::string>>& env = {}) {
  const std::string binary = std::string(RNNB_BINARY_DIR) + "/rnnbench";
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    bool replaced = false;  // the given value wins over the inherited one
    for (const auto& given : env) replaced = replaced || entry.rfind(given.first + "=", 0) == 0;
    if (!replaced) env_storage.push_back(entry);
  }
  for (const auto& [name, value] : env) env_storage.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, 1);  // the copies on 1 and 2 do not inherit close-on-exec
    ::dup2(fd, 2);
    ::execve(binary.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(fd);
  return pid;
}

// Waits for a spawned rnnbench: its exit code (128 + signal when killed; -1 when it never
// started or cannot be waited for) and its log.
inline CliResult wait_rnnbench(pid_t pid, const std::filesystem::path& log) {
  int status = 0;
  pid_t waited = -1;
  if (pid > 0) {
    do waited = ::waitpid(pid, &status, 0);
    while (waited < 0 && errno == EINTR);
  }
  std::ifstream in(log, std::ios::binary);
  std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (waited != pid || pid <= 0) return {-1, output};
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), output};
}

// The same without a shell, to the end: `args` as given, output kept in `log`.
inline CliResult run_rnnbench(const std::vector<std::string>& args, const std::filesystem::path& log) {
  return wait_rnnbench(spawn_rnnbench(args, log), log);
}

}  // namespace rnnb::test
