// Built-in DRAM standards as data tables. The timing relations follow JEDEC JESD238 (HBM3),
// JESD235 (HBM2/2E) and JESD79-4 (DDR4) as tabulated in Ramulator2's published standard
// definitions (python/ramulator/dram/{hbm3,hbm2,ddr4}.py); the numbers live in configs/dram/*.yaml.
#include <map>
#include <mutex>
#include <stdexcept>

#include "jitq/dram/standard.hpp"

namespace jitq::dram {
namespace {

using C = ConstraintDef;
const std::vector<std::string> kRD{"RD", "RDA"};
const std::vector<std::string> kWR{"WR", "WRA"};
const std::vector<std::string> kPRE{"PREpb", "PREab"};

std::vector<CommandDef> dual_bus_commands(double act_cycles, double half) {
  return {
      {"ACT", Bus::Row, Scope::Bank, Effect::Activate, act_cycles},
      {"PREpb", Bus::Row, Scope::Bank, Effect::PrechargeBank, half},
      {"PREab", Bus::Row, Scope::AllBanks, Effect::PrechargeAll, half},
      {"RD", Bus::Column, Scope::Bank, Effect::Read, 1.0},
      {"WR", Bus::Column, Scope::Bank, Effect::Write, 1.0},
      {"RDA", Bus::Column, Scope::Bank, Effect::ReadAP, 1.0},
      {"WRA", Bus::Column, Scope::Bank, Effect::WriteAP, 1.0},
      {"REFab", Bus::Row, Scope::AllBanks, Effect::RefreshAll, half},
      {"REFpb", Bus::Row, Scope::Bank, Effect::RefreshBank, half},
  };
}

// Rows HBM3 and HBM2E share: pseudo-channel RAS / refresh timing, bank group and bank rows.
// tRREFD: JESD238 (HBM3) REFpb and JESD235 (HBM2/HBM2E) REFSB to different banks of a pseudo-channel.
void add_hbm_rows(std::vector<ConstraintDef>& t) {
  const std::string PC = "PseudoChannel";
  t.insert(t.end(), {
      // Pseudo-channel: RAS timing, refresh.
      C{PC, {"RD"}, {"PREab"}, "nRTP"},
      C{PC, {"WR"}, {"PREab"}, "nCWL + nBL + nWR"},
      C{PC, {"ACT"}, {"ACT"}, "nRRDS"},
      C{PC, {"ACT"}, {"ACT"}, "nFAW", 4},
      C{PC, {"ACT"}, {"PREab"}, "nRAS"},
      C{PC, {"PREab"}, {"ACT"}, "nRP"},
      C{PC, {"ACT"}, {"REFab"}, "nRC"},
      C{PC, kPRE, {"REFab"}, "nRP"},
      C{PC, {"RDA"}, {"REFab"}, "nRP + nRTP"},
      C{PC, {"WRA"}, {"REFab"}, "nCWL + nBL + nWR + nRP"},
      C{PC, {"REFab"}, {"ACT", "PREab"}, "nRFC"},
      C{PC, {"REFpb"}, {"REFpb"}, "nRREFD"},
      C{PC, {"REFpb"}, {"ACT"}, "nRREFD"},
      C{PC, {"ACT"}, {"REFpb"}, "nRRDS"},
      // Bank group.
      C{"BankGroup", kRD, kRD, "nCCDL"},
      C{"BankGroup", kWR, kWR, "nCCDL"},
      C{"BankGroup", kWR, kRD, "nCWL + nBL + nWTRL"},
      C{"BankGroup", {"ACT"}, {"ACT"}, "nRRDL"},
      // Bank.
      C{"Bank", {"ACT"}, {"ACT"}, "nRC"},
      C{"Bank", {"ACT"}, kRD, "nRCDRD"},
      C{"Bank", {"ACT"}, kWR, "nRCDWR"},
      C{"Bank", {"ACT"}, {"PREpb"}, "nRAS"},
      C{"Bank", {"PREpb"}, {"ACT"}, "nRP"},
      C{"Bank", {"RD"}, {"PREpb"}, "nRTP"},
      C{"Bank", {"WR"}, {"PREpb"}, "nCWL + nBL + nWR"},
      C{"Bank", {"RDA"}, {"ACT"}, "nRTP + nRP"},
      C{"Bank", {"WRA"}, {"ACT"}, "nCWL + nBL + nWR + nRP"},
      C{"Bank", {"REFpb"}, {"ACT"}, "nRFCpb"},
      // The refreshing bank is busy for tRFCpb, also for its own next REFpb (JESD238 HBM3 tRFCpb,
      // JESD235 HBM2/HBM2E tRFCSB); without it, postponed REFpb could issue back to back.
      C{"Bank", {"REFpb"}, {"REFpb"}, "nRFCpb"},
      C{"Bank", {"ACT"}, {"REFpb"}, "nRC"},
      C{"Bank", {"PREpb"}, {"REFpb"}, "nRP"},
      // Not in Ramulator2's table (found by the independent checker): a REFpb needs its bank
      // precharged, so an auto-precharge access delays it like it delays an ACT.
      C{"Bank", {"RDA"}, {"REFpb"}, "nRTP + nRP"},
      C{"Bank", {"WRA"}, {"REFpb"}, "nCWL + nBL + nWR + nRP"},
  });
}

StandardDef make_hbm3() {
  StandardDef s;
  s.name = "HBM3";
  s.levels = {"Channel", "PseudoChannel", "Sid", "BankGroup", "Bank"};
  s.all_bank_scope = "PseudoChannel";
  // ACT takes 1.5 clocks on the row bus (rising-falling-rising); PRE/REF half a clock.
  s.commands = dual_bus_commands(1.5, 0.5);
  s.tick_multiplier = 2;
  s.controller = ControllerKind::DualBusRisingEdge;
  s.timing_params = {"nBL",  "nCL",  "nRCDRD", "nRCDWR", "nRP",  "nRAS",  "nRC",   "nWR",  "nRTP",
                     "nCWL", "nCCDS", "nCCDL", "nCCDR",  "nRRDS", "nRRDL", "nWTRS", "nWTRL", "nRTW",
                     "nFAW", "nPPD", "nRFC",  "nRFCpb", "nRREFD", "nREFI", "nREFIpb"};
  const std::string PC = "PseudoChannel";
  s.constraints = {
      // Pseudo-channel: data bus, turnarounds, precharge spacing (RAS / refresh rows: add_hbm_rows).
      C{PC, kRD, kRD, "nBL"},
      C{PC, kWR, kWR, "nBL"},
      C{PC, kRD, kWR, "nRTW"},
      C{PC, kWR, kRD, "nCWL + nBL + nWTRS"},
      C{PC, kPRE, kPRE, "nPPD"},
      // Stack ID: same-SID column spacing, and across SIDs (sibling) nCCDR.
      C{"Sid", kRD, kRD, "nCCDS"},
      C{"Sid", kWR, kWR, "nCCDS"},
      C{"Sid", kRD, kRD, "nCCDR", 1, true},
  };
  add_hbm_rows(s.constraints);
  return s;
}

StandardDef make_hbm2e() {
  StandardDef s;
  s.name = "HBM2E";
  s.levels = {"Channel", "PseudoChannel", "BankGroup", "Bank"};
  s.all_bank_scope = "PseudoChannel";
  s.commands = dual_bus_commands(2.0, 1.0);  // ACT occupies the row bus for 2 clocks
  s.tick_multiplier = 1;
  s.controller = ControllerKind::DualBus;
  s.timing_params = {"nBL",  "nCL",  "nRCDRD", "nRCDWR", "nRP",   "nRAS",   "nRC",    "nWR",
                     "nRTP", "nCWL", "nCCDS",  "nCCDL",  "nRRDS", "nRRDL",  "nWTRS",  "nWTRL",
                     "nFAW", "nRFC", "nRFCpb", "nRREFD", "nREFI", "nREFIpb"};
  const std::string PC = "PseudoChannel";
  s.constraints = {
      C{PC, kRD, kRD, "nBL"},
      C{PC, kWR, kWR, "nBL"},
      C{PC, kRD, kRD, "nCCDS"},
      C{PC, kWR, kWR, "nCCDS"},
      C{PC, kRD, kWR, "nCL + nBL + 2 - nCWL"},
      C{PC, kWR, kRD, "nCWL + nBL + nWTRS"},
  };
  add_hbm_rows(s.constraints);
  return s;
}

StandardDef make_ddr4() {
  StandardDef s;
  s.name = "DDR4";
  s.levels = {"Channel", "Rank", "BankGroup", "Bank"};
  s.all_bank_scope = "Rank";
  s.commands = {
      {"ACT", Bus::Shared, Scope::Bank, Effect::Activate, 1.0},
      {"PREpb", Bus::Shared, Scope::Bank, Effect::PrechargeBank, 1.0},
      {"PREab", Bus::Shared, Scope::AllBanks, Effect::PrechargeAll, 1.0},
      {"RD", Bus::Shared, Scope::Bank, Effect::Read, 1.0},
      {"WR", Bus::Shared, Scope::Bank, Effect::Write, 1.0},
      {"RDA", Bus::Shared, Scope::Bank, Effect::ReadAP, 1.0},
      {"WRA", Bus::Shared, Scope::Bank, Effect::WriteAP, 1.0},
      {"REFab", Bus::Shared, Scope::AllBanks, Effect::RefreshAll, 1.0},
  };
  s.tick_multiplier = 1;
  s.controller = ControllerKind::SingleBus;
  s.timing_params = {"nBL",  "nCL",   "nRCD",  "nRP",   "nRAS",  "nRC", "nWR",   "nRTP", "nCWL", "nCCDS",
                     "nCCDL", "nRRDS", "nRRDL", "nWTRS", "nWTRL", "nFAW", "nRFC", "nREFI", "nCS"};
  const std::vector<std::string> kAll{"RD", "RDA", "WR", "WRA"};
  s.constraints = {
      C{"Channel", kRD, kRD, "nBL"},
      C{"Channel", kWR, kWR, "nBL"},
      C{"Rank", kRD, kRD, "nCCDS"},
      C{"Rank", kWR, kWR, "nCCDS"},
      C{"Rank", kRD, kWR, "nCL + nBL + 2 - nCWL"},
      C{"Rank", kWR, kRD, "nCWL + nBL + nWTRS"},
      C{"Rank", kRD, kAll, "nBL + nCS", 1, true},
      // Not in Ramulator2's table (found by the independent checker): a write to another rank must
      // also wait for the read burst on the shared data bus, plus the rank switch.
      C{"Rank", kRD, kWR, "nCL + nBL + nCS - nCWL", 1, true},
      C{"Rank", kWR, kRD, "nCWL + nBL + nCS - nCL", 1, true},
      C{"Rank", {"RD"}, {"PREab"}, "nRTP"},
      C{"Rank", {"WR"}, {"PREab"}, "nCWL + nBL + nWR"},
      C{"Rank", {"ACT"}, {"ACT"}, "nRRDS"},
      C{"Rank", {"ACT"}, {"ACT"}, "nFAW", 4},
      C{"Rank", {"ACT"}, {"PREab"}, "nRAS"},
      C{"Rank", {"PREab"}, {"ACT"}, "nRP"},
      C{"Rank", {"ACT"}, {"REFab"}, "nRC"},
      C{"Rank", kPRE, {"REFab"}, "nRP"},
      C{"Rank", {"RDA"}, {"REFab"}, "nRP + nRTP"},
      C{"Rank", {"WRA"}, {"REFab"}, "nCWL + nBL + nWR + nRP"},
      C{"Rank", {"REFab"}, {"ACT", "PREab"}, "nRFC"},
      C{"BankGroup", kRD, kRD, "nCCDL"},
      C{"BankGroup", kWR, kWR, "nCCDL"},
      C{"BankGroup", kWR, kRD, "nCWL + nBL + nWTRL"},
      C{"BankGroup", {"ACT"}, {"ACT"}, "nRRDL"},
      C{"Bank", {"ACT"}, {"ACT"}, "nRC"},
      C{"Bank", {"ACT"}, kAll, "nRCD"},
      C{"Bank", {"ACT"}, {"PREpb"}, "nRAS"},
      C{"Bank", {"PREpb"}, {"ACT"}, "nRP"},
      C{"Bank", {"RD"}, {"PREpb"}, "nRTP"},
      C{"Bank", {"WR"}, {"PREpb"}, "nCWL + nBL + nWR"},
      C{"Bank", {"RDA"}, {"ACT"}, "nRTP + nRP"},
      C{"Bank", {"WRA"}, {"ACT"}, "nCWL + nBL + nWR + nRP"},
  };
  return s;
}

struct Registry {
  std::mutex mutex;
  std::map<std::string, std::vector<std::function<void(StandardDef&)>>> extensions;
  std::map<std::string, StandardDef> built;  // built lazily, extensions applied once
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

bool register_standard_extension(std::string name, std::function<void(StandardDef&)> extend) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.extensions[name].push_back(std::move(extend));
  r.built.erase(name);
  return true;
}

std::vector<std::string> standard_names() { return {"HBM3", "HBM2E", "DDR4"}; }

const StandardDef& standard(std::string_view name) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  std::string key(name);
  auto it = r.built.find(key);
  if (it != r.built.end()) return it->second;
  StandardDef s;
  if (key == "HBM3") {
    s = make_hbm3();
  } else if (key == "HBM2E") {
    s = make_hbm2e();
  } else if (key == "DDR4") {
    s = make_ddr4();
  } else {
    throw std::invalid_argument("unknown DRAM standard '" + key + "' (known: HBM3, HBM2E, DDR4)");
  }
  for (auto& f : r.extensions[key]) f(s);
  return r.built.emplace(key, std::move(s)).first->second;
}

}  // namespace jitq::dram
