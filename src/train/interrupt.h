// Ctrl-C and SIGTERM during training: the handler only raises a flag; the trainer checks it
// at each step boundary, saves a resumable checkpoint and stops.
#pragma once

#include <string>

#include "util/error.h"

namespace rnnb {

void install_interrupt_handlers();
bool interrupt_requested();
void clear_interrupt();  // tests

// Thrown once the resumable checkpoint is safely written; the CLI exits with code 130.
class Interrupted : public Error {
 public:
  using Error::Error;
};

}  // namespace rnnb
