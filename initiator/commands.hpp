// Builders for the commands the host sends: fabrics (Connect, Property Get/Set), admin (Identify, Get Log Page,
// Set Features, Keep Alive) and NVM I/O. Pure functions from parameters to an SQE (and, for Connect, its data),
// so each field can be checked against the spec in a unit test. The queue fills CID and the data pointer.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "nvme/fabrics.hpp"
#include "nvme/libnvme.hpp"
#include "nvme/sqe.hpp"

namespace nvmf::initiator {

// ---- Fabrics (NVMe-oF 3.3, 3.5) ----

/// Connect: QID, SQSIZE (0's based), KATO in ms (admin queue only; 0 on I/O queues, as the Linux host sends).
nvme::Sqe make_connect(std::uint16_t qid, std::uint16_t sqsize, std::uint32_t kato_ms);
/// The 1024-byte Connect data. hostid is 16 raw bytes; cntlid FFFFh asks for a dynamic controller on the admin
/// queue, I/O queues repeat the CNTLID the admin Connect returned.
nvmf_connect_data make_connect_data(const std::array<std::uint8_t, 16>& hostid, std::uint16_t cntlid,
                                    const std::string& subnqn, const std::string& hostnqn);
/// Property Get of a 4- or 8-byte property (NVME_REG_CAP is the 8-byte one the host reads).
nvme::Sqe make_property_get(std::uint32_t offset, bool eight_bytes);
nvme::Sqe make_property_set(std::uint32_t offset, std::uint64_t value, bool eight_bytes);

// ---- Admin ----

nvme::Sqe make_identify(std::uint8_t cns, std::uint32_t nsid, std::uint16_t cntid = 0);
/// Get Log Page for `length` bytes (multiple of 4) at byte `offset`. RAE (retain asynchronous event) as the
/// Linux host sets it for the discovery log.
nvme::Sqe make_get_log_page(std::uint8_t lid, std::uint32_t nsid, std::uint32_t length, std::uint64_t offset,
                            bool rae = false, std::uint8_t lsp = 0);
nvme::Sqe make_set_features(std::uint8_t fid, std::uint32_t cdw11);
/// Get Features; SEL (CDW10 bits 10:8): 0 current, 1 default, 2 saved, 3 supported capabilities.
nvme::Sqe make_get_features(std::uint8_t fid, std::uint32_t nsid = 0, std::uint8_t sel = 0, std::uint32_t cdw11 = 0);
/// Set Features Number of Queues (5.27.1.5): both counts 0's based in CDW11.
nvme::Sqe make_set_number_of_queues(std::uint16_t io_queues);
nvme::Sqe make_keep_alive();
/// Asynchronous Event Request: held by the controller until an event (NVMe base 5.2).
nvme::Sqe make_async_event_request();

// ---- NVM command set ----

/// Read and Write: NLB is the count of blocks (1..65536); FUA sets CDW12 bit 30.
nvme::Sqe make_read(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, bool fua = false);
nvme::Sqe make_write(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, bool fua = false);
nvme::Sqe make_compare(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb);
nvme::Sqe make_flush(std::uint32_t nsid);
/// Write Zeroes; `deallocate` sets DEAC (CDW12 bit 25) so a thin backend may unmap instead of writing.
nvme::Sqe make_write_zeroes(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, bool deallocate = false);
/// Dataset Management with the AD (deallocate) attribute for `ranges` struct nvme_dsm_range entries (1..256).
nvme::Sqe make_deallocate(std::uint32_t nsid, std::uint32_t ranges);

/// Largest block count one Read/Write carries (NLB is a 16-bit 0's based field).
inline constexpr std::uint32_t kMaxBlocksPerCommand = 65536;

}  // namespace nvmf::initiator
