// Option parsing: defaults, presets, validation and the messages users see.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "cli/options.h"
#include "cli/presets.h"
#include "cli/run_config.h"
#include "data/tokenizer.h"
#include "util/error.h"

namespace rnnb {
namespace {

TEST(Options, DefaultsAreTheDefaultClassifier) {
  const Options o = Options::parse("train", {});
  const ModelConfig m = model_config(o, 1000);
  EXPECT_EQ(m.cell, Cell::Gru);
  EXPECT_EQ(m.embed, 128);
  EXPECT_EQ(m.hidden, 256);
  EXPECT_EQ(m.layers, 1);
  EXPECT_FALSE(m.bidirectional);
  const TrainOptions t = train_options(o);
  EXPECT_EQ(t.batch_size, 64);
  EXPECT_EQ(m.padding, Padding::Packed);
  EXPECT_EQ(t.batching, BatchOrder::Bucket);
  EXPECT_EQ(data_options(o).val_fraction, 0.2f);
}

TEST(Options, ExplicitValuesFlagsAndEqualsForm) {
  const Options o = Options::parse("train", {"--cell", "lstm", "--bidirectional", "--hidden=64", "--layers", "2"});
  const ModelConfig m = model_config(o, 10);
  EXPECT_EQ(m.cell, Cell::Lstm);
  EXPECT_TRUE(m.bidirectional);
  EXPECT_EQ(m.hidden, 64);
  EXPECT_EQ(m.layers, 2);
}

TEST(Options, PresetSuppliesDefaultsThatExplicitOptionsOverride) {
  const Options o = Options::parse("train", {"--preset", "tutorial-bilstm", "--epochs", "1"});
  EXPECT_EQ(o.text("cell"), "lstm");
  EXPECT_EQ(o.text("layers"), "2");
  EXPECT_EQ(o.text("epochs"), "1");
  EXPECT_THROW(Options::parse("train", {"--preset", "nope"}), UsageError);
}

TEST(Options, RejectsUnknownMissingAndOutOfRange) {
  EXPECT_THROW(Options::parse("train", {"--colour", "red"}), UsageError);
  EXPECT_THROW(Options::parse("train", {"--hidden"}), UsageError);
  EXPECT_THROW(Options::parse("train", {"stray"}), UsageError);
  EXPECT_THROW(Options::parse("data", {"--cell", "gru"}), UsageError);  // not a data option
  EXPECT_THROW(model_config(Options::parse("train", {"--hidden", "0"}), 10), UsageError);
  EXPECT_THROW(model_config(Options::parse("train", {"--hidden", "12x"}), 10), UsageError);
  EXPECT_THROW(model_config(Options::parse("train", {"--cell", "transformer"}), 10), UsageError);
  EXPECT_THROW(model_config(Options::parse("train", {"--dropout", "1.5"}), 10), UsageError);
  EXPECT_THROW(optim_config(Options::parse("train", {"--lr", "nan"})), UsageError);
  EXPECT_THROW(model_config(Options::parse("train", {"--padding", "middle"}), 10), UsageError);
  EXPECT_THROW(backend_options(Options::parse("train", {"--math", "fp8"})), UsageError);
  EXPECT_THROW(data_options(Options::parse("train", {"--val-fraction", "0.95"})), UsageError);
}

// What a checkpoint of `options` stores (as train does).
Checkpoint checkpoint_of(const Options& o) {
  Checkpoint c;
  c.data = data_options(o);
  c.model = model_config(o, 10);
  c.run = {train_options(o), backend_options(o), o.text("device")};
  return c;
}

TEST(Options, ResumeRestoresOnlyWhatWasNotGiven) {
  const Checkpoint original = checkpoint_of(Options::parse("train", {"--cell", "lstm", "--epochs", "7", "--padding", "pre"}));
  const Options resumed = Options::parse("train", {"--epochs", "9"});
  DataOptions data = data_options(resumed);
  ModelConfig model = model_config(resumed, 0);
  RunSettings run{train_options(resumed), backend_options(resumed), resumed.text("device")};
  apply_resume(resumed, original, data, model, run);
  EXPECT_EQ(model.cell, Cell::Lstm);
  EXPECT_EQ(model.padding, Padding::Pre);
  EXPECT_EQ(run.train.epochs, 9);

  // An explicit --padding wins at an epoch's end; in the middle of one, anything that
  // would change the epoch's batches is refused.
  const Options repadded = Options::parse("train", {"--padding", "post"});
  DataOptions data2 = data_options(repadded);
  ModelConfig model2 = model_config(repadded, 0);
  RunSettings run2{train_options(repadded), backend_options(repadded), repadded.text("device")};
  apply_resume(repadded, original, data2, model2, run2);
  EXPECT_EQ(model2.padding, Padding::Post);
  Checkpoint mid_epoch = original;
  mid_epoch.progress.next_batch = 5;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--padding", "post"}, {"--batch-size", "32"}, {"--max-len", "50"}, {"--seed", "9"}}) {
    const Options o = Options::parse("train", args);
    DataOptions d = data_options(o);
    ModelConfig m = model_config(o, 0);
    RunSettings r{train_options(o), backend_options(o), o.text("device")};
    EXPECT_THROW(apply_resume(o, mid_epoch, d, m, r), UsageError) << args[0];
  }
  // The same values again are no change.
  const Options same = Options::parse("train", {"--padding", "pre", "--epochs", "9"});
  DataOptions d3 = data_options(same);
  ModelConfig m3 = model_config(same, 0);
  RunSettings r3{train_options(same), backend_options(same), same.text("device")};
  EXPECT_NO_THROW(apply_resume(same, mid_epoch, d3, m3, r3));
}

TEST(Options, DataSettingsRoundTrip) {
  Checkpoint c;
  c.data = data_options(Options::parse("train", {"--min-freq", "3", "--max-len", "200", "--truncate", "pre"}));
  const DataOptions here = data_options(Options::parse("eval", {"--data", "elsewhere.tar.gz"}));
  const DataOptions b = stored_data(c, here);
  EXPECT_EQ(b.min_freq, 3);
  EXPECT_EQ(b.max_len, 200);
  EXPECT_TRUE(b.truncate_pre);
  EXPECT_EQ(b.path, "elsewhere.tar.gz");  // the data is read from where eval is told
  c.tokenizer_version = kTokenizerVersion + 1;
  EXPECT_THROW(stored_data(c, here), Error);
}

// Every enum's table: each listed name parses back to its value, aliases parse but are not
// listed, and an unknown name is a UsageError naming the option and the accepted names.
template <typename E, size_t N>
void expect_consistent(const NameTable<E, N>& table) {
  std::set<std::string> listed;  // the words of "a, b or c"
  std::istringstream words(table.choices(false));
  for (std::string word; words >> word;)
    if (word != "or") listed.insert(word.back() == ',' ? word.substr(0, word.size() - 1) : word);
  for (const NamedValue<E>& e : table.entries) {
    EXPECT_EQ(table.parse(e.name), e.value) << e.name;
    if (!e.alias) {
      EXPECT_EQ(table.name(e.value), e.name);
    }
    EXPECT_EQ(listed.count(std::string(e.name)), e.alias ? 0u : 1u) << e.name;
  }
  try {
    table.parse("no-such-name");
    ADD_FAILURE() << table.what;
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find(std::string(table.what) + " 'no-such-name' (expected " +
                                             table.choices(false) + ")"),
              std::string::npos)
        << error.what();
  }
}

TEST(NameTables, NamesParsesAndHelpComeFromOneTable) {
  expect_consistent(kCellNames);
  expect_consistent(kPoolNames);
  expect_consistent(kPaddingNames);
  expect_consistent(kBatchOrderNames);
  expect_consistent(kRnnAlgoNames);
  expect_consistent(kRnnMathNames);
  EXPECT_EQ(parse_enum<Cell>("rnn"), Cell::RnnTanh);
  EXPECT_EQ(enum_name(Padding::Packed), "packed");
  EXPECT_EQ(parse_enum<Padding>("none"), Padding::Packed);
  EXPECT_EQ(kRnnMathNames.choices(false), "fp32, tf32, fp16 or bf16");
  EXPECT_EQ(backend_options(Options::parse("train", {"--algo", "persist-dynamic"})).algo, RnnAlgo::PersistDynamic);
  EXPECT_THROW(backend_options(Options::parse("train", {"--algo", "fastest"})), UsageError);
  // --help shows every listed name of the table.
  bool found = false;
  for (const OptionSpec& spec : option_table()) {
    if (spec.name == "math") {
      found = true;
      EXPECT_NE(spec.help.find(kRnnMathNames.choices()), std::string::npos);
    }
  }
  EXPECT_TRUE(found) << "no --math row in the option table";
}

TEST(Presets, EveryPresetParsesIntoAValidConfiguration) {
  for (const Preset& preset : presets()) {
    const Options o = Options::parse("train", {"--preset", preset.name});
    EXPECT_NO_THROW(model_config(o, 100)) << preset.name;
    EXPECT_NO_THROW(train_options(o)) << preset.name;
    EXPECT_NO_THROW(optim_config(o)) << preset.name;
    EXPECT_NO_THROW(data_options(o)) << preset.name;
  }
}

}  // namespace
}  // namespace rnnb
