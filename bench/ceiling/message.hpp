// The ceiling tool's framing: every message starts with a 16-byte header that carries its total length, the
// way an NVMe/TCP PDU's common header carries PLEN (NVMe/TCP 1.0 section 3.6.1). The rest of a message is
// payload the receiver skips: the ceiling measures moving bytes and framing them, nothing else.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nvmf::bench {

enum class MessageKind : std::uint16_t {
  request = 1,       ///< client -> server: answer with response_length bytes
  response = 2,      ///< server -> client
  stats_query = 3,   ///< client -> server after the run: how much CPU did you spend on this connection?
  stats_answer = 4,  ///< server -> client, payload is ServerStats
};

struct MessageHeader {
  std::uint32_t length;           ///< Total message length, this header included
  std::uint32_t response_length;  ///< In a request: total length of the wanted response; else 0
  std::uint32_t tag;              ///< Chosen by the client, echoed by the server (like an NVMe CID)
  MessageKind kind;
  std::uint16_t reserved;
};
static_assert(sizeof(MessageHeader) == 16);
static_assert(offsetof(MessageHeader, length) == 0);
static_assert(offsetof(MessageHeader, response_length) == 4);
static_assert(offsetof(MessageHeader, tag) == 8);
static_assert(offsetof(MessageHeader, kind) == 12);

/// Payload of a stats_answer: what the server thread spent since it accepted the connection.
struct ServerStats {
  std::uint64_t requests;
  std::uint64_t user_us;
  std::uint64_t system_us;
};
static_assert(sizeof(ServerStats) == 24);

inline constexpr std::size_t kMinMessageSize = sizeof(MessageHeader);
/// Large enough for a 128 KiB I/O plus any PDU header; bounds the shared payload buffer.
inline constexpr std::size_t kMaxMessageSize = 1024 * 1024;

}  // namespace nvmf::bench
