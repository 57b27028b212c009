// PIM quantize commands in the cycle-level simulator: the all-bank command set and its timing rows
// (added to a copy of the standard, so plain simulate() runs are unaffected), and a run of host
// requests together with PIM kernels under an arbitration policy.
//
// Commands (docs/pim.md): ACTab (activate one row in every PIM bank), PIM_RD (all-bank column read
// into the units), PIM_WR (all-bank column write from the units), PIM_Q (one quantize step of one
// block per unit; column bus, no bank state); all-bank precharge is the standard's PREab. Every
// all-bank command obeys the per-bank rules of each bank it covers (Device::ready_time).
//
// Driving: a PimDriver per channel turns each kernel's per-unit program (the same in every
// pseudo-channel) into Requests for the controller's in-order priority queue (Controller::
// priority_send). A queued command blocks new host requests, so the driver only queues:
//   blocking       a chunk of register-file groups at a time; the host runs between chunks,
//   interleave     one command when it can issue now (priority low: only when the host queue is
//                  empty or the command has waited max_wait clocks),
//   bank-partition like interleave (high priority) but on the last SID / bank group of every
//                  pseudo-channel only; the host keeps the other banks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "jitq/dram/simulator.hpp"
#include "jitq/dram/standard.hpp"

namespace jitq::dram {

enum class PimPolicy : unsigned char { Blocking, Interleave, BankPartition };

struct PimParams {
  int command_interval = 4;   // clocks between all-bank column commands (>= nCCDL)
  int compute_cycles = 4;     // clocks per PIM_Q (one block per unit)
  int act_counts_tfaw = 4;    // ACTab counts as this many ACTs in the tFAW window (0..4)
  PimPolicy policy = PimPolicy::Blocking;
  int chunk_groups = 8;       // blocking: register-file groups per chunk
  bool high_priority = false;  // interleave: PIM first (true) or host first (false)
  int max_wait = 64;           // interleave low priority: clocks a ready PIM command yields at most
};

// Program opcodes (harness/memsim/pim_program.py).
inline constexpr int8_t kPimOpRead = 0, kPimOpWrite = 1, kPimOpQuantize = 2;

struct PimProgram {
  std::vector<int8_t> op;
  std::vector<int64_t> row;
  std::vector<int32_t> col;
  std::vector<int64_t> group_end;  // exclusive op indices
};

struct PimRunResult {
  SimResult sim;
  std::vector<int64_t> kernel_start;  // ticks
  std::vector<int64_t> kernel_end;    // ticks
};

// The standard `base` plus the PIM commands and timing rows (latencies reference nPIMCI, nPIMQ).
StandardDef with_pim(const StandardDef& base, const PimParams& p);
// The timing map plus nPIMCI / nPIMQ.
std::map<std::string, int64_t> pim_timing(const std::map<std::string, int64_t>& timing, const PimParams& p);

PimRunResult simulate_with_pim(const SimConfig& cfg, const PimParams& p, const std::vector<PimProgram>& kernels,
                               const uint64_t* addr, const uint8_t* is_write, const int64_t* arrival, size_t n);

}  // namespace jitq::dram
