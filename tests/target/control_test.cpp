// The control socket: requests and replies over a real UNIX socket, refusals naming the request field, the
// socket's permissions, and save-config reading back through --config.
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "nvme/auth_wire.hpp"
#include "nvme/dhchap_secret.hpp"
#include "target/config_json.hpp"
#include "target/control_client.hpp"
#include "target/control_requests.hpp"
#include "target/control_server.hpp"
#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

using nlohmann::json;

class ControlTest : public TargetTest {
 protected:
  void SetUp() override {
    target::TargetConfig c;
    c.listeners.push_back(target::parse_listen_address("tcp:127.0.0.1:0"));
    c.subsystems.push_back(ram_subsystem(kSubNqn));
    target_ = std::make_unique<target::Target>(c);
    registry_ = target_->registry();
    factory_ = std::make_unique<target::SessionFactory>(registry_);
    path_ = "/tmp/nvmf-control-test-" + std::to_string(getpid()) + ".sock";
    server_ = std::make_unique<target::ControlServer>(*target_, path_);
  }
  void TearDown() override { server_.reset(); }

  json request(const json& r) { return target::control_request(path_, r); }
  void expect_error(const json& r, const std::string& field, const std::string& reason) {
    json reply = request(r);
    EXPECT_FALSE(reply["ok"].get<bool>()) << reply.dump();
    EXPECT_EQ(reply["error"]["field"], field) << reply.dump();
    EXPECT_NE(reply["error"]["reason"].get<std::string>().find(reason), std::string::npos) << reply.dump();
  }

  std::unique_ptr<target::Target> target_;
  std::string path_;
  std::unique_ptr<target::ControlServer> server_;
};

TEST_F(ControlTest, SocketIsPrivate) {
  struct stat st {};
  ASSERT_EQ(lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, geteuid());
  // A second server on the same live socket is refused; a stale one would be replaced.
  EXPECT_THROW(target::ControlServer(*target_, path_), std::runtime_error);
  server_->stop();
  EXPECT_NE(access(path_.c_str(), F_OK), 0);
}

/// Runs `body` in a child process as uid/gid `uid` (nobody); returns the child's exit code (or -1).
template <typename Body>
int run_as_user(uid_t uid, Body body) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0) _exit(100);
    _exit(body());
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST_F(ControlTest, ClientOfAnotherUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to another uid";
  constexpr uid_t kNobody = 65534;
  // The socket's mode (0600, the target's user) keeps another user out before any request is read.
  const int by_mode = run_as_user(kNobody, [&] {
    try {
      target::control_request(path_, {{"op", "list"}});
      return 1;  // served: the mode did not protect the socket
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      return what.find(path_) != std::string::npos && what.find("Permission denied") != std::string::npos ? 0 : 2;
    }
  });
  EXPECT_EQ(by_mode, 0) << "1: served another user, 2: refused without naming the socket and the reason";
  // With the file mode loosened (a careless chmod), SO_PEERCRED still refuses, and says why.
  ASSERT_EQ(chmod(path_.c_str(), 0666), 0);
  const int by_credentials = run_as_user(kNobody, [&] {
    try {
      json reply = target::control_request(path_, {{"op", "add-ns"}, {"nqn", kSubNqn},
                                                   {"namespace", {{"backend", "ram"}, {"size", "1M"}}}});
      const std::string reason = reply["error"]["reason"].get<std::string>();
      if (reply["ok"].get<bool>()) return 1;
      return reason.find("permission denied") != std::string::npos && reason.find("uid 65534") != std::string::npos ? 0 : 2;
    } catch (const std::exception&) {
      return 3;
    }
  });
  EXPECT_EQ(by_credentials, 0) << "1: served another user, 2: refusal without the reason, 3: no reply";
  // The refused request changed nothing, and the owner is still served.
  json list = request({{"op", "list"}});
  ASSERT_TRUE(list["ok"].get<bool>()) << list.dump();
  EXPECT_EQ(list["subsystems"][0]["namespaces"].size(), 1u);
}

TEST_F(ControlTest, ChangesAndListings) {
  json r = request({{"op", "add-ns"}, {"nqn", kSubNqn}, {"namespace", {{"backend", "ram"}, {"size", "2M"}}}});
  ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
  EXPECT_EQ(r["nsid"], 2);
  r = request({{"op", "add-subsystem"},
               {"subsystem", {{"nqn", "nqn.2024-01.io.nvmf:new"}, {"namespaces", {{{"backend", "null"}, {"size", "1G"}}}}}}});
  ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
  ASSERT_TRUE(request({{"op", "add-host"}, {"nqn", "nqn.2024-01.io.nvmf:new"}, {"host", kHostNqn}})["ok"].get<bool>());
  ASSERT_TRUE(request({{"op", "add-referral"}, {"address", "tcp:10.0.0.1:8009"}, {"portid", 4}})["ok"].get<bool>());
  json list = request({{"op", "list"}});
  ASSERT_EQ(list["subsystems"].size(), 2u);
  EXPECT_EQ(list["subsystems"][0]["namespaces"].size(), 2u);
  EXPECT_EQ(list["subsystems"][1]["allowed_hosts"][0], kHostNqn);
  EXPECT_EQ(list["referrals"][0]["portid"], 4);
  ASSERT_TRUE(request({{"op", "remove-ns"}, {"nqn", kSubNqn}, {"nsid", 2}})["ok"].get<bool>());
  ASSERT_TRUE(request({{"op", "remove-subsystem"}, {"nqn", "nqn.2024-01.io.nvmf:new"}})["ok"].get<bool>());
  EXPECT_EQ(request({{"op", "list"}})["subsystems"].size(), 1u);

  // Controllers and their queues.
  auto admin = new_queue();
  auto cntlid = connect_and_enable(*admin);
  auto io = new_queue();
  ASSERT_TRUE(connect_io(*io, cntlid, 1, 63).status().ok());
  json ctrls = request({{"op", "list-controllers"}});
  ASSERT_TRUE(ctrls["ok"].get<bool>());
  const json& sub = ctrls["subsystems"][1];
  EXPECT_EQ(sub["nqn"], kSubNqn);
  ASSERT_EQ(sub["controllers"].size(), 1u);
  EXPECT_EQ(sub["controllers"][0]["cntlid"], cntlid);
  EXPECT_EQ(sub["controllers"][0]["host"], kHostNqn);
  EXPECT_EQ(sub["controllers"][0]["state"], "ready");
  EXPECT_EQ(sub["controllers"][0]["io_queues"][0]["qid"], 1);
  EXPECT_EQ(sub["controllers"][0]["io_queues"][0]["depth"], 64);
}

TEST_F(ControlTest, RefusalsNameTheRequestField) {
  expect_error({{"op", "add-ns"}, {"nqn", kSubNqn}, {"namespace", {{"backend", "ram"}, {"size", "12Q"}}}},
               "/namespace/size", "unknown suffix");
  expect_error({{"op", "add-ns"}, {"nqn", kSubNqn}, {"namespace", {{"backend", "ram"}, {"size", "1M"}, {"block_size", 1000}}}},
               "/namespace/block_size", "512 or 4096");
  expect_error({{"op", "add-ns"}, {"nqn", kSubNqn}, {"namespace", {{"backend", "file"}, {"path", "/nonexistent"}}}},
               "/namespace/path", "No such file");
  expect_error({{"op", "add-ns"}, {"nqn", "nqn.2024-01.io.nvmf:none"}, {"namespace", {{"backend", "ram"}, {"size", "1M"}}}},
               "/nqn", "no such subsystem");
  expect_error({{"op", "add-subsystem"}, {"subsystem", {{"nqn", "bad"}}}}, "/subsystem/nqn", "starts with 'nqn.'");
  expect_error({{"op", "remove-ns"}, {"nqn", kSubNqn}, {"nsid", 7}}, "/nsid", "no such namespace");
  expect_error({{"op", "add-listener"}, {"address", "tcp:1.2.3:4"}}, "/address", "not an IP address");
  expect_error({{"op", "explode"}}, "/op", "unknown request");
  expect_error({{"nqn", kSubNqn}}, "/op", "missing");
  EXPECT_EQ(request({{"op", "list"}})["subsystems"][0]["namespaces"].size(), 1u);  // nothing applied
}

TEST_F(ControlTest, SaveConfigReadsBack) {
  ASSERT_TRUE(request({{"op", "add-ns"}, {"nqn", kSubNqn},
                       {"namespace", {{"backend", "ram"}, {"size", "1M"}, {"hosts", {kOtherHostNqn}}}}})["ok"]
                  .get<bool>());
  json saved = request({{"op", "save-config"}})["config"];
  auto loaded = target::parse_config(saved, "saved.json");
  EXPECT_NO_THROW(loaded.config.validate());
  ASSERT_EQ(loaded.config.subsystems[0].namespaces.size(), 2u);
  EXPECT_EQ(loaded.config.subsystems[0].namespaces[1].hosts, std::vector<std::string>{kOtherHostNqn});
  EXPECT_EQ(target::to_json(loaded.config), saved);
}

TEST_F(ControlTest, SetHostDhchapAppliesToTheNextConnect) {
  const std::string key = nvme::dhchap::format_secret(nvme::dhchap::generate_secret(32, std::nullopt, ""));
  auto before = new_queue();
  auto c0 = connect(*before, 0, 31, connect_data(kHostNqn, kSubNqn));
  ASSERT_TRUE(c0.status().ok());
  EXPECT_EQ(c0.cqe.dw0 & nvme::kConnectAuthreqAtr, 0u);
  json reply = request({{"op", "set-host-dhchap"},
                        {"host", {{"nqn", kHostNqn}, {"dhchap_key", key}, {"dhchap_dhgroups", {"ffdhe2048"}}}}});
  ASSERT_TRUE(reply["ok"].get<bool>()) << reply.dump();
  auto after = new_queue();
  auto c1 = connect(*after, 0, 31, connect_data(kHostNqn, kSubNqn));
  ASSERT_TRUE(c1.status().ok());
  EXPECT_TRUE(c1.cqe.dw0 & nvme::kConnectAuthreqAtr);
  // The queue admitted before the change goes on without authenticating.
  EXPECT_TRUE(before->run(property_get(NVME_REG_CAP, true)).status().ok());
  json saved = request({{"op", "save-config"}})["config"];
  EXPECT_EQ(saved["hosts"][0]["dhchap_key"], key);
  // A bad secret is refused by field, without its value.
  std::string bad = key;
  bad[12] = bad[12] == 'A' ? 'B' : 'A';
  reply = request({{"op", "set-host-dhchap"}, {"host", {{"nqn", kHostNqn}, {"dhchap_key", bad}}}});
  EXPECT_FALSE(reply["ok"].get<bool>());
  EXPECT_EQ(reply["error"]["field"], "/host/dhchap_key") << reply.dump();
  EXPECT_EQ(reply.dump().find(bad.substr(10, 16)), std::string::npos) << reply.dump();
  EXPECT_EQ(registry_->host(kHostNqn)->dhchap_key, key);  // nothing applied
}

TEST(ControlFields, ConfigFieldsBecomeJsonPointers) {
  EXPECT_EQ(target::field_to_pointer("subsystem.namespaces[0].size"), "/subsystem/namespaces/0/size");
  EXPECT_EQ(target::field_to_pointer("nqn"), "/nqn");
  EXPECT_EQ(target::field_to_pointer("/already/a/pointer"), "/already/a/pointer");
}

}  // namespace
}  // namespace nvmf::test
