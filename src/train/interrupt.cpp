// Signal handlers that set a flag (async-signal-safe) for the trainer to poll.
#include "train/interrupt.h"

#include <csignal>

namespace rnnb {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

// First signal: raise the flag. Second: the user insists, so take the default action
// (termination by that signal) without waiting for the next step boundary.
extern "C" void on_signal(int signal_number) {
  if (g_interrupted) {
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
    return;
  }
  g_interrupted = 1;
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

}  // namespace rnnb
