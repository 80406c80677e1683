// Writes the checkpoint seed of fuzz_checkpoint: a tiny model saved by the engine itself.
//   fuzz_make_seed OUT.ckpt
#include "train/checkpoint.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  rnnb::Checkpoint c;
  c.model.vocab_size = 4;
  c.model.embed = 2;
  c.model.hidden = 2;
  c.model.layers = 2;
  c.model.bidirectional = true;
  c.vocab = {"<pad>", "<unk>", "a", "b"};
  c.state = rnnb::initial_state(c.model, 1);
  c.model.padding = rnnb::Padding::Pre;
  c.data.max_len = 100;
  c.run.train.epochs = 2;
  c.run.device = "cpu";
  rnnb::save_checkpoint(argv[1], c);
  return 0;
}
