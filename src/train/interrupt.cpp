// Signal handlers that set a flag for the trainer to poll (and, while the test hook waits,
// wake it through a self-pipe); both async-signal-safe.
#include "train/interrupt.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace rnnb {
namespace {

// Lock-free atomics: safe in a handler, and across the threads a signal may land on.
std::atomic<int> g_interrupted{0};
std::atomic<int> g_wake_fd{-1};  // write end of await_interrupt_signal's self-pipe
static_assert(std::atomic<int>::is_always_lock_free);

// First signal: raise the flag. Second: the user insists, so take the default action
// (termination by that signal) without waiting for the next step boundary.
extern "C" void on_signal(int signal_number) {
  if (g_interrupted) {
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
    return;
  }
  g_interrupted = 1;
  if (const int fd = g_wake_fd; fd >= 0) {
    const int saved_errno = errno;  // write() may change it under the interrupted code
    const char byte = 's';
    [[maybe_unused]] const ssize_t written = ::write(fd, &byte, 1);
    errno = saved_errno;
  }
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool interrupt_requested() { return g_interrupted != 0; }
void request_interrupt() { g_interrupted = 1; }
void clear_interrupt() { g_interrupted = 0; }

void await_interrupt_signal(int ready_fd) {
  // One pipe for the process, never closed: a handler running late on another thread can
  // never write into a descriptor number that was reused.
  static int wake[2] = {-1, -1};
  if (wake[0] < 0 && ::pipe2(wake, O_CLOEXEC) != 0)
    fail(std::string("await_interrupt_signal: pipe: ") + std::strerror(errno));
  g_wake_fd = wake[1];  // set before the test is told we are ready, so no signal is missed
  const char ready = 'r';
  const bool told = ::write(ready_fd, &ready, 1) == 1;
  ::close(ready_fd);
  if (!told) fail(std::string("await_interrupt_signal: ready write: ") + std::strerror(errno));
  char byte;
  while (!interrupt_requested()) {
    const ssize_t got = ::read(wake[0], &byte, 1);
    if (got < 0 && errno != EINTR) fail(std::string("await_interrupt_signal: read: ") + std::strerror(errno));
  }
  g_wake_fd = -1;
}

}  // namespace rnnb
