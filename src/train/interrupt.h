// Ctrl-C and SIGTERM during training: the handler raises a flag (and wakes the test hook's
// wait, if any); the trainer checks it
// at each step boundary (and between evaluation batches), saves a resumable checkpoint and
// stops. A second signal while the first is being handled ends the process at once (the
// checkpoint files are written atomically, so that never leaves a damaged one).
#pragma once

#include <string>

#include "util/error.h"

namespace rnnb {

void install_interrupt_handlers();
bool interrupt_requested();
void request_interrupt();  // as if a signal arrived (the RNNB_INTERRUPT_AFTER_STEPS hook)
void clear_interrupt();    // tests

// Test hook (RNNB_AWAIT_SIGNAL_AT_STEP): writes one byte to `ready_fd`, then blocks until a
// real SIGINT or SIGTERM has been handled. A test reads that byte, sends the signal and so
// interrupts the run at a known step on a machine of any speed. The signal handler wakes
// this wait through a self-pipe, whichever thread the kernel delivers the signal to.
void await_interrupt_signal(int ready_fd);

// Thrown once the resumable checkpoint is safely written; the CLI exits with code 130.
class Interrupted : public Error {
 public:
  using Error::Error;
};

}  // namespace rnnb
