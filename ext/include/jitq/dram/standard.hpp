// A DRAM standard as data: hierarchy levels, commands, and the table of timing constraints between
// command pairs at each level (the idea of Ramulator2's DRAM specs). Nothing here is code that
// simulates: the controller and device read these tables after spec.hpp resolves them to ticks.
//
// Extending a standard (e.g. PIM all-bank commands): add CommandDef rows and ConstraintDef rows with
// register_standard_extension() from a separate translation unit; see docs/dram-simulator.md.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace jitq::dram {

// Which command bus a command travels on. HBM has separate row and column buses.
enum class Bus : unsigned char { Shared, Row, Column };

// What a command does to bank state (the controller's "prerequisite" logic reads these).
enum class Effect : unsigned char {
  None,           // timing only (e.g. a PIM compute step)
  Activate,       // opens a row in one bank
  PrechargeBank,  // closes one bank
  PrechargeAll,   // closes every bank in the all-bank scope
  Read,           // column read, row stays open
  Write,          // column write, row stays open
  ReadAP,         // column read with auto-precharge
  WriteAP,        // column write with auto-precharge
  RefreshAll,     // all-bank refresh (needs all banks in scope closed)
  RefreshBank,    // per-bank refresh (needs the bank closed)
  ActivateAll,    // opens the same row in every bank of the scope (PIM all-bank ACT)
};

// Address scope of a command: one bank, or all banks below the standard's all-bank scope level.
enum class Scope : unsigned char { Bank, AllBanks };

struct CommandDef {
  std::string name;
  Bus bus = Bus::Shared;
  Scope scope = Scope::Bank;
  Effect effect = Effect::None;
  double ck_cycles = 1.0;  // command-bus occupancy in clocks (HBM3 ACT: 1.5)
};

// One row of the timing table: at `level`, a `following` command to the same node (or, with
// `sibling`, to a different node under the same parent) must wait `latency` (an expression over
// timing parameters, in clocks) after the `window`-th most recent `preceding` command.
struct ConstraintDef {
  std::string level;
  std::vector<std::string> preceding;
  std::vector<std::string> following;
  std::string latency;
  int window = 1;
  bool sibling = false;
};

// How the controller drives the command buses.
enum class ControllerKind : unsigned char {
  SingleBus,          // one command per tick (DDR4)
  DualBus,            // one row + one column command per tick (HBM2/HBM2E)
  DualBusRisingEdge,  // ticks are half clocks; column commands on rising edges only (HBM3)
};

struct StandardDef {
  std::string name;
  std::vector<std::string> levels;  // Channel ... Bank (rows and columns are address fields)
  std::string all_bank_scope;       // level addressed by all-bank commands (REFab, PREab)
  std::vector<CommandDef> commands;
  std::vector<ConstraintDef> constraints;
  std::vector<std::string> timing_params;  // names every timing preset must give (in clocks)
  int tick_multiplier = 1;                 // ticks per clock
  std::string read_latency = "nCL + nBL";
  ControllerKind controller = ControllerKind::SingleBus;
};

// The built-in standards (HBM3, HBM2E, DDR4), with registered extensions applied.
const StandardDef& standard(std::string_view name);
std::vector<std::string> standard_names();

// Registers a function that edits a standard's definition (adds commands / constraint rows) before
// first use. Call from a static initializer in another .cpp (e.g. pim_commands.cpp).
bool register_standard_extension(std::string name, std::function<void(StandardDef&)> extend);

}  // namespace jitq::dram
