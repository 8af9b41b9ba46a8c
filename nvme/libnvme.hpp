// libnvme's definitions (identify, log pages, discovery log, connect data, status strings), usable from C++.
// libnvme 1.3's headers lack extern "C" guards and rely on <stddef.h> being included first.
#pragma once
#include <cstddef>
#include <cstdint>
extern "C" {
#include <nvme/types.h>
#include <nvme/util.h>
}
