// Identify data in nvme-cli's JSON field names (`nvme id-ctrl -o json`, `nvme id-ns -o json`), and a
// "name : value" text form in the same order.
#pragma once
#include <nlohmann/json.hpp>

#include "nvme/libnvme.hpp"

namespace nvmf::cli {

nlohmann::ordered_json id_ctrl_json(const nvme_id_ctrl& id);
nlohmann::ordered_json id_ns_json(const nvme_id_ns& id);
/// "vid       : 0x1b36" per field; arrays of objects (psds, lbafs) one line per element.
void print_fields(const nlohmann::ordered_json& j);

}  // namespace nvmf::cli
