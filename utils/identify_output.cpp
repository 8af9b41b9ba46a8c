#include "utils/identify_output.hpp"

#include <cstdio>
#include <cstring>

#include "utils/cli_common.hpp"

namespace nvmf::cli {

namespace {
template <std::size_t N>
std::string str(const char (&field)[N]) {
  return trimmed(field, N);
}

// 128-bit little-endian counters (TNVMCAP, UNVMCAP) as a decimal when they fit 64 bits, as nvme-cli does.
double u128(const std::uint8_t (&v)[16]) {
  double out = 0;
  for (int i = 15; i >= 0; --i) out = out * 256 + v[i];
  return out;
}
}  // namespace

nlohmann::ordered_json id_ctrl_json(const nvme_id_ctrl& id) {
  nlohmann::ordered_json j;
  j["vid"] = id.vid;
  j["ssvid"] = id.ssvid;
  j["sn"] = str(id.sn);
  j["mn"] = str(id.mn);
  j["fr"] = str(id.fr);
  j["rab"] = id.rab;
  j["ieee"] = id.ieee[0] | id.ieee[1] << 8 | id.ieee[2] << 16;
  j["cmic"] = id.cmic;
  j["mdts"] = id.mdts;
  j["cntlid"] = id.cntlid;
  j["ver"] = id.ver;
  j["rtd3r"] = id.rtd3r;
  j["rtd3e"] = id.rtd3e;
  j["oaes"] = id.oaes;
  j["ctratt"] = id.ctratt;
  j["rrls"] = id.rrls;
  j["cntrltype"] = id.cntrltype;
  j["fguid"] = hex_bytes(id.fguid, sizeof id.fguid);
  j["crdt1"] = id.crdt1;
  j["crdt2"] = id.crdt2;
  j["crdt3"] = id.crdt3;
  j["nvmsr"] = id.nvmsr;
  j["vwci"] = id.vwci;
  j["mec"] = id.mec;
  j["oacs"] = id.oacs;
  j["acl"] = id.acl;
  j["aerl"] = id.aerl;
  j["frmw"] = id.frmw;
  j["lpa"] = id.lpa;
  j["elpe"] = id.elpe;
  j["npss"] = id.npss;
  j["avscc"] = id.avscc;
  j["apsta"] = id.apsta;
  j["wctemp"] = id.wctemp;
  j["cctemp"] = id.cctemp;
  j["mtfa"] = id.mtfa;
  j["hmpre"] = id.hmpre;
  j["hmmin"] = id.hmmin;
  j["tnvmcap"] = u128(id.tnvmcap);
  j["unvmcap"] = u128(id.unvmcap);
  j["rpmbs"] = id.rpmbs;
  j["edstt"] = id.edstt;
  j["dsto"] = id.dsto;
  j["fwug"] = id.fwug;
  j["kas"] = id.kas;
  j["hctma"] = id.hctma;
  j["mntmt"] = id.mntmt;
  j["mxtmt"] = id.mxtmt;
  j["sanicap"] = id.sanicap;
  j["hmminds"] = id.hmminds;
  j["hmmaxd"] = id.hmmaxd;
  j["nsetidmax"] = id.nsetidmax;
  j["endgidmax"] = id.endgidmax;
  j["anatt"] = id.anatt;
  j["anacap"] = id.anacap;
  j["anagrpmax"] = id.anagrpmax;
  j["nanagrpid"] = id.nanagrpid;
  j["pels"] = id.pels;
  j["sqes"] = id.sqes;
  j["cqes"] = id.cqes;
  j["maxcmd"] = id.maxcmd;
  j["nn"] = id.nn;
  j["oncs"] = id.oncs;
  j["fuses"] = id.fuses;
  j["fna"] = id.fna;
  j["vwc"] = id.vwc;
  j["awun"] = id.awun;
  j["awupf"] = id.awupf;
  j["icsvscc"] = id.icsvscc;
  j["nwpc"] = id.nwpc;
  j["acwu"] = id.acwu;
  j["ocfs"] = id.ocfs;
  j["sgls"] = id.sgls;
  j["mnan"] = id.mnan;
  j["subnqn"] = str(id.subnqn);
  j["ioccsz"] = id.ioccsz;
  j["iorcsz"] = id.iorcsz;
  j["icdoff"] = id.icdoff;
  j["fcatt"] = id.fcatt;
  j["msdbd"] = id.msdbd;
  j["ofcs"] = id.ofcs;
  nlohmann::ordered_json psds = nlohmann::ordered_json::array();
  for (unsigned i = 0; i <= id.npss && i < 32; ++i) {
    const nvme_id_psd& p = id.psd[i];
    psds.push_back({{"max_power", p.mp}, {"flags", p.flags}, {"entry_lat", p.enlat}, {"exit_lat", p.exlat},
                    {"read_tput", p.rrt}, {"read_lat", p.rrl}, {"write_tput", p.rwt}, {"write_lat", p.rwl},
                    {"idle_power", p.idlp}, {"idle_scale", p.ips}, {"active_power", p.actp},
                    {"active_power_work", p.apws}});
  }
  j["psds"] = psds;
  return j;
}

nlohmann::ordered_json id_ns_json(const nvme_id_ns& id) {
  nlohmann::ordered_json j;
  j["nsze"] = id.nsze;
  j["ncap"] = id.ncap;
  j["nuse"] = id.nuse;
  j["nsfeat"] = id.nsfeat;
  j["nlbaf"] = id.nlbaf;
  j["flbas"] = id.flbas;
  j["mc"] = id.mc;
  j["dpc"] = id.dpc;
  j["dps"] = id.dps;
  j["nmic"] = id.nmic;
  j["rescap"] = id.rescap;
  j["fpi"] = id.fpi;
  j["dlfeat"] = id.dlfeat;
  j["nawun"] = id.nawun;
  j["nawupf"] = id.nawupf;
  j["nacwu"] = id.nacwu;
  j["nabsn"] = id.nabsn;
  j["nabo"] = id.nabo;
  j["nabspf"] = id.nabspf;
  j["noiob"] = id.noiob;
  j["nvmcap"] = u128(id.nvmcap);
  j["mssrl"] = id.mssrl;
  j["mcl"] = id.mcl;
  j["msrc"] = id.msrc;
  j["anagrpid"] = id.anagrpid;
  j["nsattr"] = id.nsattr;
  j["nvmsetid"] = id.nvmsetid;
  j["endgid"] = id.endgid;
  j["nguid"] = hex_bytes(id.nguid, sizeof id.nguid);
  j["eui64"] = hex_bytes(id.eui64, sizeof id.eui64);
  nlohmann::ordered_json lbafs = nlohmann::ordered_json::array();
  for (unsigned i = 0; i <= id.nlbaf && i < 64; ++i)
    lbafs.push_back({{"ms", id.lbaf[i].ms}, {"ds", id.lbaf[i].ds}, {"rp", id.lbaf[i].rp}});
  j["lbafs"] = lbafs;
  return j;
}

void print_fields(const nlohmann::ordered_json& j) {
  for (const auto& [key, value] : j.items()) {
    if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        std::printf("%-5s %-4zu:", key.c_str(), i);
        for (const auto& [k, v] : value[i].items()) std::printf(" %s:%s", k.c_str(), v.dump().c_str());
        std::printf("\n");
      }
    } else if (value.is_string()) {
      std::printf("%-10s: %s\n", key.c_str(), value.get<std::string>().c_str());
    } else if (value.is_number_unsigned() || value.is_number_integer()) {
      std::printf("%-10s: %#llx\n", key.c_str(), static_cast<unsigned long long>(value.get<std::uint64_t>()));
    } else {
      std::printf("%-10s: %s\n", key.c_str(), value.dump().c_str());
    }
  }
}

}  // namespace nvmf::cli
