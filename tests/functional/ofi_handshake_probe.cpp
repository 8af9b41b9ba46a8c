// Hostile input for the ofi transport's connection handshake, for ofi_functional_test.sh: connects to an ofi
// listener (tcp provider) with one malformed request and reports what the controller did.
//   ofi_handshake_probe ADDR PORT short|qid-ffff|hsqsize-0|oversized-capsule
// short, qid-ffff, hsqsize-0: exit 0 when the controller rejected the request with the NVMe/RDMA reject record
// naming the expected status. oversized-capsule: connects properly, sends a command capsule larger than the
// admin queue's receive buffers, and exits 0 when the controller ended the connection.
#include <rdma/fi_cm.h>
#include <rdma/fi_errno.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "fabric/ofi/endpoint.hpp"
#include "fabric/ofi/ofi_info.hpp"
#include "fabric/rdma/cm_private_data.hpp"

using namespace nvmf::fabric;
namespace nvme = nvmf::nvme;

namespace {
int fail(const std::string& why) {
  std::fprintf(stderr, "ofi_handshake_probe: %s\n", why.c_str());
  return 1;
}

bool wait_event(ofi::Endpoint& ep, ofi::CmEvent* event, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    fi_cq_msg_entry entry;
    fi_cq_read(ep.cq(), &entry, 1);  // the tcp provider progresses in reads
    const int r = ofi::read_cm_event(ep.eq(), event);
    if (r != 0) return r > 0 || event->error;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return fail("usage: ofi_handshake_probe ADDR PORT short|qid-ffff|hsqsize-0|oversized-capsule");
  const std::string mode = argv[3];
  std::string error;
  auto info = ofi::get_info("tcp", argv[1], argv[2], false, &error);
  if (!info) return fail(error);
  auto fabric = ofi::Fabric::open(*info, &error);
  if (!fabric) return fail(error);
  ofi::EndpointSizes sizes{8, 8};
  auto ep = ofi::Endpoint::open(fabric, *info, sizes, &error);
  if (!ep) return fail(error);

  auto request = rdma::make_connect_request(0, 32, 0xFFFF);
  std::size_t length = sizeof request;
  nvme::rdma::CmRejectStatus expected = nvme::rdma::CmRejectStatus::invalid_private_data_length;
  if (mode == "short") {
    length = 8;
  } else if (mode == "qid-ffff") {
    request.qid = 0xFFFF;
    expected = nvme::rdma::CmRejectStatus::invalid_qid;
  } else if (mode == "hsqsize-0") {
    request.hsqsize = 0;
    expected = nvme::rdma::CmRejectStatus::invalid_hsqsize;
  } else if (mode != "oversized-capsule") {
    return fail("unknown mode " + mode);
  }
  int ret = fi_connect(ep->ep(), info->dest_addr, &request, length);
  if (ret) return fail(ofi::error_text("fi_connect", ret));
  ofi::CmEvent event;
  if (!wait_event(*ep, &event, 5)) return fail("no answer to the connect request");

  if (mode != "oversized-capsule") {
    if (!event.error) return fail("connect request accepted, expected a reject");
    const std::string described = rdma::describe_reject(event.data, event.data_length);
    const std::string wanted = rdma::reject_status_name(expected);
    std::printf("%s: %s\n", mode.c_str(), described.c_str());
    return described.find(wanted) != std::string::npos ? 0 : fail("expected '" + wanted + "', got: " + described);
  }
  if (event.error || event.event != FI_CONNECTED) return fail("valid connect request not accepted");
  // 64-byte SQE + 16 KiB: twice the admin queue's 8 KiB in-capsule limit.
  std::vector<char> capsule(64 + 16384, 0);
  ret = static_cast<int>(fi_send(ep->ep(), capsule.data(), capsule.size(), nullptr, 0, nullptr));
  if (ret) return fail(ofi::error_text("fi_send", ret));
  if (!wait_event(*ep, &event, 5)) return fail("the controller kept the connection after an oversized capsule");
  std::printf("oversized-capsule: connection ended (%s)\n",
              event.error ? fi_strerror(event.error) : event.event == FI_SHUTDOWN ? "shutdown" : "other event");
  return 0;
}
