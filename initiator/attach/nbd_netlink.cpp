#include "initiator/attach/nbd_netlink.hpp"

#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/nbd.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace nvmf::initiator::nbd {

namespace {
constexpr std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t(3); }

/// A netlink message under construction: header, genl header, then attributes (nested ones by start/finish).
struct Builder {
  std::vector<char> buf;

  Builder(std::uint16_t type, std::uint8_t cmd, std::uint8_t version) {
    buf.resize(NLMSG_HDRLEN + GENL_HDRLEN);
    auto* nl = reinterpret_cast<nlmsghdr*>(buf.data());
    nl->nlmsg_type = type;
    nl->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    auto* g = reinterpret_cast<genlmsghdr*>(buf.data() + NLMSG_HDRLEN);
    g->cmd = cmd;
    g->version = version;
  }
  void put(std::uint16_t type, const void* data, std::size_t len) {
    std::size_t at = buf.size();
    buf.resize(at + align4(NLA_HDRLEN + len));
    auto* a = reinterpret_cast<nlattr*>(buf.data() + at);
    a->nla_type = type;
    a->nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + len);
    std::memcpy(buf.data() + at + NLA_HDRLEN, data, len);
  }
  void put_u32(std::uint16_t type, std::uint32_t v) { put(type, &v, sizeof v); }
  void put_u64(std::uint16_t type, std::uint64_t v) { put(type, &v, sizeof v); }
  void put_string(std::uint16_t type, const char* s) { put(type, s, std::strlen(s) + 1); }
  std::size_t start_nest(std::uint16_t type) {
    std::size_t at = buf.size();
    buf.resize(at + NLA_HDRLEN);
    reinterpret_cast<nlattr*>(buf.data() + at)->nla_type = static_cast<std::uint16_t>(type | NLA_F_NESTED);
    return at;
  }
  void finish_nest(std::size_t at) {
    reinterpret_cast<nlattr*>(buf.data() + at)->nla_len = static_cast<std::uint16_t>(buf.size() - at);
  }
  std::vector<char>& done() {
    reinterpret_cast<nlmsghdr*>(buf.data())->nlmsg_len = static_cast<std::uint32_t>(buf.size());
    return buf;
  }
};

/// Walk attributes in [data, data+len) and return the one of `type` (nested flag ignored), or nullptr.
const nlattr* find_attr(const char* data, std::size_t len, std::uint16_t type) {
  std::size_t off = 0;
  while (off + NLA_HDRLEN <= len) {
    auto* a = reinterpret_cast<const nlattr*>(data + off);
    if (a->nla_len < NLA_HDRLEN || off + a->nla_len > len) break;
    if ((a->nla_type & NLA_TYPE_MASK) == type) return a;
    off += align4(a->nla_len);
  }
  return nullptr;
}
}  // namespace

Netlink::~Netlink() {
  if (fd_ >= 0) close(fd_);
}

bool Netlink::open(std::string* error) {
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (fd_ < 0) {
    *error = std::string("generic netlink socket: ") + std::strerror(errno);
    return false;
  }
  // Bounded waits: a driver that never answers is an error, not a hang.
  timeval tv{10, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
    *error = std::string("binding the netlink socket: ") + std::strerror(errno);
    return false;
  }
  Builder b(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
  // NVMF_NBD_FAMILY names another family: tests use it to stand for a kernel without nbd.
  const char* env = std::getenv("NVMF_NBD_FAMILY");
  b.put_string(CTRL_ATTR_FAMILY_NAME, env && *env ? env : NBD_GENL_FAMILY_NAME);
  std::uint32_t id = 0;
  if (!transact(b.done(), CTRL_ATTR_FAMILY_ID, &id, error)) {
    if (error->find(std::strerror(ENOENT)) != std::string::npos)
      *error = "NBD is not available: the kernel has no \"nbd\" netlink family (load it: modprobe nbd)";
    return false;
  }
  family_ = static_cast<std::uint16_t>(id);
  return true;
}

bool Netlink::transact(std::vector<char>& message, std::uint16_t want_attr, std::uint32_t* value,
                       std::string* error) {
  auto* hdr = reinterpret_cast<nlmsghdr*>(message.data());
  hdr->nlmsg_seq = seq_++;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    *error = std::string("netlink send: ") + std::strerror(errno);
    return false;
  }
  std::vector<char> reply(16384);
  bool found = want_attr == 0;
  for (;;) {
    ssize_t n = recv(fd_, reply.data(), reply.size(), 0);
    if (n < 0) {
      *error = std::string("netlink receive: ") + (errno == EAGAIN ? "no answer within 10 s" : std::strerror(errno));
      return false;
    }
    for (auto* nl = reinterpret_cast<nlmsghdr*>(reply.data()); NLMSG_OK(nl, static_cast<unsigned>(n));
         nl = NLMSG_NEXT(nl, n)) {
      if (nl->nlmsg_seq != hdr->nlmsg_seq) continue;
      if (nl->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(nl));
        if (e->error != 0) {
          *error = std::strerror(-e->error);
          return false;
        }
        if (!found) {
          *error = "the answer lacked the expected attribute";
          return false;
        }
        return true;  // the acknowledgement ends the exchange
      }
      const char* attrs = static_cast<const char*>(NLMSG_DATA(nl)) + GENL_HDRLEN;
      const std::size_t len = nl->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
      if (want_attr) {
        if (const nlattr* a = find_attr(attrs, len, want_attr)) {
          const char* p = reinterpret_cast<const char*>(a) + NLA_HDRLEN;
          if (a->nla_len - NLA_HDRLEN == 2) {
            std::uint16_t v16;
            std::memcpy(&v16, p, 2);
            *value = v16;
          } else {
            std::memcpy(value, p, sizeof *value);
          }
          found = true;
        }
      }
    }
  }
}

int Netlink::connect(const ConnectRequest& r, std::string* error) {
  Builder b(family_, NBD_CMD_CONNECT, NBD_GENL_VERSION);
  b.put_u64(NBD_ATTR_SIZE_BYTES, r.size_bytes);
  b.put_u64(NBD_ATTR_BLOCK_SIZE_BYTES, r.block_size);
  if (r.timeout_seconds) b.put_u64(NBD_ATTR_TIMEOUT, r.timeout_seconds);
  b.put_u64(NBD_ATTR_SERVER_FLAGS, r.server_flags);
  // DISCONNECT (or our sockets closing) frees the device for the next user.
  b.put_u64(NBD_ATTR_CLIENT_FLAGS, NBD_CFLAG_DESTROY_ON_DISCONNECT);
  std::size_t sockets = b.start_nest(NBD_ATTR_SOCKETS);
  for (int fd : r.socket_fds) {
    std::size_t item = b.start_nest(NBD_SOCK_ITEM);
    b.put_u32(NBD_SOCK_FD, static_cast<std::uint32_t>(fd));
    b.finish_nest(item);
  }
  b.finish_nest(sockets);
  std::uint32_t index = 0;
  std::string why;
  if (!transact(b.done(), NBD_ATTR_INDEX, &index, &why)) {
    *error = "NBD CONNECT failed: " + why;
    return -1;
  }
  return static_cast<int>(index);
}

bool Netlink::disconnect(std::uint32_t index, std::string* error) {
  Builder b(family_, NBD_CMD_DISCONNECT, NBD_GENL_VERSION);
  b.put_u32(NBD_ATTR_INDEX, index);
  std::string why;
  if (!transact(b.done(), 0, nullptr, &why)) {
    *error = "NBD DISCONNECT of /dev/nbd" + std::to_string(index) + " failed: " + why;
    return false;
  }
  return true;
}

}  // namespace nvmf::initiator::nbd
