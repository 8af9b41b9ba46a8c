// The statuses a host-side transport gives the requests it ends itself, the same on every transport so the
// layers above (reconnect, multipath, the C API) need not know which one failed. As the Linux host: a dead path
// is nvme_host_path_error (SCT 3h, SC 70h, no DNR, so the layer above may retry elsewhere); requests the host
// withdrew (queue closed) are Command Aborted By Host (SCT 3h, SC 71h).
#pragma once
#include "nvme/status.hpp"

namespace nvmf::fabric {

inline nvme::Status host_path_error() { return nvme::Status::make(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR); }
inline nvme::Status host_aborted() { return nvme::Status::make(NVME_SCT_PATH, NVME_SC_CMD_ABORTED_BY_HOST); }

}  // namespace nvmf::fabric
